"""Each adapter and option set made from the settings; `app.build_app` puts them together."""

from __future__ import annotations

from collections.abc import Callable

from memora_cdn.core.render import RenderOptions
from memora_cdn.media.signing import make_config_signer
from memora_cdn.publish import PublishOptions
from memora_cdn.purge.base import NoPurger, Purger
from memora_cdn.queue.base import RetryPolicy
from memora_cdn.settings import Settings
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.local import FileStore
from memora_cdn.sync.worker import Schedule


def _secrets(settings: Settings) -> list[str]:
    values = (settings.s3_access_key, settings.s3_secret_key, settings.cloudflare_api_token)
    return [v.get_secret_value() for v in values if v is not None]


def make_store(settings: Settings, closers: list[Callable[[], object]]) -> tuple[ObjectStore, str]:
    """The object store, and the prefix its keys carry (purged URLs include it)."""
    if settings.store.startswith("file://"):
        return FileStore(settings.store_path), ""
    from memora_cdn.store.s3 import S3Store, parse_store_url, s3_client

    bucket, prefix = parse_store_url(settings.store)
    client = s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
        settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
        max_pool_connections=max(settings.upload_concurrency, 10),
    )
    closers.append(client.close)
    store = S3Store(
        client, bucket, prefix, redact=_secrets(settings), endpoint_url=settings.s3_endpoint_url
    )
    return store, prefix


def make_purger(settings: Settings, closers: list[Callable[[], object]]) -> Purger:
    """The CDN purger: Cloudflare when its zone and token are set, else none."""
    if not (settings.cloudflare_zone_id and settings.cloudflare_api_token):
        return NoPurger()
    assert settings.cdn_base_url is not None  # checked by Settings
    from memora_cdn.purge.cloudflare import CloudflarePurger, cloudflare_client

    client = cloudflare_client()
    closers.append(client.close)
    return CloudflarePurger(
        zone_id=settings.cloudflare_zone_id,
        api_token=settings.cloudflare_api_token,
        cdn_base_url=settings.cdn_base_url,
        client=client,
        api_base=settings.cloudflare_api_base,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    """The queue's retry policy of the settings."""
    return RetryPolicy(settings.max_retries, settings.retry_base_seconds)


def make_schedule(settings: Settings) -> Schedule:
    """The worker's schedule of the settings (a scan interval of 0: no scans)."""
    return Schedule(
        interval_seconds=settings.batch_interval_minutes * 60,
        threshold=settings.batch_threshold,
        scan_interval_seconds=settings.scan_interval_seconds or None,
    )


def render_options(settings: Settings) -> RenderOptions:
    """How plans are rendered under the settings: search shards and media signing."""
    return RenderOptions(
        shard_threshold=settings.shard_threshold,
        shard_max_bytes=settings.shard_max_bytes,
        sign=make_config_signer(settings),
        media_keys=settings.signed_keys,
    )


def publish_options(settings: Settings, store_prefix: str = "") -> PublishOptions:
    """How plans are rendered, uploaded and cached under the settings."""
    return PublishOptions(
        render=render_options(settings),
        upload_concurrency=settings.upload_concurrency,
        manifest_cache_seconds=settings.manifest_cache_seconds,
        document_cache_seconds=settings.document_cache_seconds,
        store_prefix=store_prefix,
    )
