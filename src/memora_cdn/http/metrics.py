"""`GET /metrics` (SPEC §9): Prometheus text computed at scrape time from the shared state
(the state tables and the queue), never from one process's counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from memora_cdn.app import App
from memora_cdn.queue.fallback import DEGRADED_NAME
from memora_cdn.state.figures import read_figures

BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Build duration histogram buckets, in seconds."""


class StateCollector(Collector):
    """Reads the metrics from the state tables and the queue at each scrape."""

    def __init__(self, application: App) -> None:
        self.application = application

    def collect(self) -> Iterator[Metric]:
        app = self.application
        now = app.now()
        stats = app.queue.stats(now)
        depth = GaugeMetricFamily(
            "memora_cdn_queue_depth", "Plans in the queue, by state.", labels=["state"]
        )
        for state, count in (
            ("pending", stats.pending),
            ("processing", stats.processing),
            ("retrying", stats.retrying),
            ("dead_letter", stats.dead_letter),
        ):
            depth.add_metric([state], count)
        yield depth
        queue = app.queue
        yield GaugeMetricFamily(
            "memora_cdn_queue_fallback_active",
            "1 while Redis is unreachable and events go to the SQL fallback queue.",
            value=1 if queue.name == DEGRADED_NAME else 0,
        )
        yield GaugeMetricFamily(
            "memora_cdn_queue_fallback_pending",
            "Plans waiting in the SQL fallback queue.",
            value=stats.fallback_pending,
        )
        figures = read_figures(app.state.engine)
        builds = CounterMetricFamily(
            "memora_cdn_builds",
            "Finished builds, by status and trigger (from cdn_sync_log).",
            labels=["status", "trigger"],
        )
        for (status, trigger), count in sorted(figures.builds.items()):
            builds.add_metric([status, trigger], count)
        yield builds
        buckets = [
            (str(bound), sum(1 for d in figures.durations if d <= bound)) for bound in BUCKETS
        ]
        buckets.append(("+Inf", len(figures.durations)))
        yield HistogramMetricFamily(
            "memora_cdn_build_duration_seconds",
            "How long finished builds took (cdn_sync_log started_at to completed_at).",
            buckets=buckets,
            sum_value=sum(figures.durations),
        )
        yield CounterMetricFamily(
            "memora_cdn_files_uploaded", "Files uploaded by builds.", value=figures.files_uploaded
        )
        yield CounterMetricFamily(
            "memora_cdn_bytes_uploaded", "Bytes uploaded by builds.", value=figures.bytes_uploaded
        )
        yield CounterMetricFamily(
            "memora_cdn_purge_requests",
            "CDN purge requests made by builds.",
            value=figures.purge_requests,
        )
        yield CounterMetricFamily(
            "memora_cdn_purge_failures",
            "CDN purge requests that failed for good (their URLs are purged on the retry).",
            value=figures.purge_failures,
        )
        oldest = (
            0.0
            if figures.oldest_queued is None
            else max(0.0, (now - figures.oldest_queued).total_seconds())
        )
        yield GaugeMetricFamily(
            "memora_cdn_oldest_pending_age_seconds",
            "How long the longest-waiting queued plan has waited (0 when none waits).",
            value=oldest,
        )
        webhooks = CounterMetricFamily(
            "memora_cdn_webhook_events",
            "Frappe webhook calls, by outcome (accepted, ignored, or why one was rejected).",
            labels=["outcome"],
        )
        for outcome, count in sorted(figures.webhook_events.items()):
            webhooks.add_metric([outcome], count)
        yield webhooks


def metrics_route(application: App) -> Callable[[Request], Awaitable[Response]]:
    """The `GET /metrics` handler: Prometheus text from a `StateCollector`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(application))

    async def metrics(_request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
