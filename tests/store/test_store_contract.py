"""The ObjectStore contract, run against every implementation (SPEC §3, §4).

`store_under_test` (tests/store/conftest.py) is a tmp folder (`file`), a fresh bucket on moto's
S3 server reached through boto3 and the counting fault proxy (`s3`), and the same with a store
prefix (`s3-prefix`). The S3-only section at the end covers what a folder has no equivalent
for: object metadata, retries, per-key delete errors and error details.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from fakes.s3server import TEST_CREDENTIALS, MotoS3Server, S3FaultProxy, s3_store
from memora_cdn.core import paths
from memora_cdn.errors import SettingError, StoreError
from memora_cdn.store.base import JSON_CONTENT_TYPE, MARKER
from memora_cdn.store.local import FileStore
from memora_cdn.store.s3 import S3Store, parse_store_url, s3_client

if TYPE_CHECKING:
    from store.conftest import StoreUnderTest

LONG = "public, max-age=31536000"
SHORT = "public, max-age=60"


def put(subject: StoreUnderTest, key: str, body: bytes = b"{}", cache: str = LONG) -> None:
    subject.store.put(key, body, content_type=JSON_CONTENT_TYPE, cache_control=cache)


def listed(subject: StoreUnderTest, prefix: str = "") -> list[str]:
    return sorted(subject.store.list_keys(prefix))


# -- round trips ---------------------------------------------------------------------------


def test_a_put_object_reads_back_byte_for_byte(store_under_test: StoreUnderTest) -> None:
    body = '{"title":"الجبر — Algèbre"}'.encode()
    put(store_under_test, "plans/P/lessons/L1.json", body)
    assert store_under_test.store.get("plans/P/lessons/L1.json") == body


def test_a_second_put_replaces_the_object(store_under_test: StoreUnderTest) -> None:
    put(store_under_test, "plans/P/manifest.json", b'{"v":1}')
    put(store_under_test, "plans/P/manifest.json", b'{"v":2}')
    assert store_under_test.store.get("plans/P/manifest.json") == b'{"v":2}'
    assert listed(store_under_test) == ["plans/P/manifest.json"]


def test_getting_a_key_that_does_not_exist_returns_none(store_under_test: StoreUnderTest) -> None:
    assert store_under_test.store.get("plans/P/lessons/nothing.json") is None


def test_uploads_carry_content_type_and_cache_control(store_under_test: StoreUnderTest) -> None:
    put(store_under_test, "plans/P/manifest.json", cache=SHORT)
    put(store_under_test, "plans/P/lessons/L1.json", cache=LONG)
    if not store_under_test.is_s3:
        # A folder keeps no headers (the web server in front of it sets them): the files
        # themselves must still be there.
        assert store_under_test.store.get("plans/P/manifest.json") is not None
        assert store_under_test.store.get("plans/P/lessons/L1.json") is not None
        return
    manifest = store_under_test.head("plans/P/manifest.json")
    lesson = store_under_test.head("plans/P/lessons/L1.json")
    assert (manifest["ContentType"], manifest["CacheControl"]) == (JSON_CONTENT_TYPE, SHORT)
    assert (lesson["ContentType"], lesson["CacheControl"]) == (JSON_CONTENT_TYPE, LONG)


# -- deletes -------------------------------------------------------------------------------


def test_deleting_keys_that_do_not_exist_is_not_an_error(store_under_test: StoreUnderTest) -> None:
    put(store_under_test, "plans/P/lessons/L1.json")
    store_under_test.store.delete(["plans/P/lessons/L1.json", "plans/P/lessons/gone.json"])
    store_under_test.store.delete(["plans/Q/manifest.json"])
    store_under_test.store.delete([])
    assert listed(store_under_test) == []
    if store_under_test.proxy is not None:
        assert len(store_under_test.proxy.delete_batches) == 2  # nothing sent for []


def test_deleting_2500_keys_takes_exactly_three_batch_calls(
    store_under_test: StoreUnderTest,
) -> None:
    keys = [paths.lesson_key("P", f"L{n:05}") for n in range(2500)]
    present = keys[::100]  # 25 of them exist; S3 deletes absent keys quietly
    for key in present:
        put(store_under_test, key)
    put(store_under_test, "plans/P/manifest.json")
    store_under_test.store.delete(keys)
    assert listed(store_under_test) == ["plans/P/manifest.json"]
    if store_under_test.proxy is not None:
        proxy = store_under_test.proxy
        prefix = store_under_test.prefix
        assert [len(batch) for batch in proxy.delete_batches] == [1000, 1000, 500]
        assert [key for batch in proxy.delete_batches for key in batch] == [
            prefix + key for key in keys
        ]
        assert proxy.count("DELETE") == 0  # never one request per key


def test_delete_prefix_removes_one_plan_only(store_under_test: StoreUnderTest) -> None:
    mine = [
        paths.manifest_key("A"),
        paths.lesson_key("A", "L1"),
        paths.unit_key("A", "U1"),
        paths.search_shard_key("A", "S1", 2),
    ]
    others = [paths.manifest_key("AB"), paths.lesson_key("B", "L1"), "plans/A.json"]
    for key in mine + others:
        put(store_under_test, key)
    assert store_under_test.store.delete_prefix(paths.plan_prefix("A")) == len(mine)
    assert listed(store_under_test) == sorted(others)
    assert store_under_test.store.delete_prefix(paths.plan_prefix("A")) == 0


# -- listing -------------------------------------------------------------------------------


def test_list_keys_with_and_without_a_prefix(store_under_test: StoreUnderTest) -> None:
    keys = [
        paths.manifest_key("P"),
        paths.lesson_key("P", "L1"),
        paths.lesson_key("P", "L2"),
        paths.subject_key("P", "S1"),
        paths.manifest_key("Q"),
    ]
    for key in keys:
        put(store_under_test, key)
    assert listed(store_under_test) == sorted(keys)
    assert listed(store_under_test, "plans/P/") == sorted(keys[:4])
    assert listed(store_under_test, "plans/P/lessons/") == sorted(keys[1:3])
    assert listed(store_under_test, "plans/P/less") == sorted(keys[1:3])
    assert listed(store_under_test, "plans/Z/") == []


# -- awkward keys --------------------------------------------------------------------------

AWKWARD_NAMES = [
    "a b/c?d#e%f&g+h",
    "100% سلام",
    "Ünïcode — ✓",
    "x" * 140,
    "ا" * 140,
    "%2e%2e",
    "~tilde'quote\"",
]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_percent_encoded_and_long_names_round_trip_and_list_as_written(
    store_under_test: StoreUnderTest, name: str
) -> None:
    key = paths.lesson_key(name, name)
    put(store_under_test, key, name.encode())
    assert store_under_test.store.get(key) == name.encode()
    assert listed(store_under_test) == [key]
    assert listed(store_under_test, paths.plan_prefix(name)) == [key]
    store_under_test.store.delete([key])
    assert listed(store_under_test) == []


LONG_PLAN = "الخطة الدراسية للصف العاشر — العلوم والرياضيات " * 6
LONG_LESSON = "الدرس الأول: مقدمة في المعادلات الخطية وحل المسائل ١ " * 8


def test_a_very_long_plan_and_lesson_name_give_a_key_every_store_accepts(
    store_under_test: StoreUnderTest,
) -> None:
    # Percent-encoded whole, this key would be over 3,800 bytes: S3 and R2 refuse > 1,024.
    key = paths.lesson_key(LONG_PLAN, LONG_LESSON)
    assert len((store_under_test.prefix + key).encode()) <= 1_024
    assert all(len(part.encode()) <= 255 for part in key.split("/"))
    put(store_under_test, key, b'{"id":"L"}')
    assert store_under_test.store.get(key) == b'{"id":"L"}'
    assert listed(store_under_test) == [key]
    if store_under_test.is_s3:
        assert store_under_test.proxy is not None
        assert store_under_test.proxy.puts[store_under_test.prefix + key] == 1
    else:
        assert isinstance(store_under_test.store, FileStore)
        assert (store_under_test.store.root / key).is_file()  # one file, named by its key
    store_under_test.store.delete([key])
    assert listed(store_under_test) == []


def key_of_length(size: int) -> str:
    """A plain key of exactly `size` bytes, in segments of at most 200."""
    parts, left = [], size - len("plans/") - len(".json")
    while left > 0:
        parts.append("k" * min(200, left))
        left -= len(parts[-1]) + 1
    key = "plans/" + "/".join(parts) + ".json"
    assert len(key) == size
    return key


def test_a_key_of_1024_bytes_with_the_prefix_is_stored_and_one_more_byte_is_refused_unsent(
    store_under_test: StoreUnderTest,
) -> None:
    prefix = store_under_test.prefix
    longest, too_long = key_of_length(1_024 - len(prefix)), key_of_length(1_025 - len(prefix))
    put(store_under_test, longest)
    if store_under_test.proxy is not None:
        store_under_test.proxy.reset()
    with pytest.raises(StoreError) as caught:
        put(store_under_test, too_long)
    assert caught.value.key == too_long
    if store_under_test.is_s3:
        assert caught.value.detail == (
            f"the key is 1,025 bytes with the store prefix {prefix!r},"
            " over the 1,024 that S3 and R2 accept"
        )
        assert store_under_test.proxy is not None
        assert store_under_test.proxy.requests == []
    else:
        assert caught.value.detail == "the key is 1,025 bytes, over the 1,024 that S3 and R2 accept"
    store_under_test.store.delete([too_long])  # it cannot be there: not an error
    if store_under_test.proxy is not None:
        assert store_under_test.proxy.requests == []
    assert listed(store_under_test) == [longest]


@pytest.mark.parametrize(
    "key", ["../escape.json", "plans/../../x.json", "plans//x.json", "/abs.json", "plans/./x"]
)
def test_keys_with_empty_or_dot_segments_are_refused(
    store_under_test: StoreUnderTest, key: str
) -> None:
    with pytest.raises(StoreError, match="key segment") as caught:
        put(store_under_test, key)
    assert caught.value.key == key
    assert listed(store_under_test) == []


# -- concurrency ---------------------------------------------------------------------------


def test_sixteen_threads_putting_at_once_each_land_every_object(
    store_under_test: StoreUnderTest,
) -> None:
    start = threading.Barrier(16)

    def upload(thread: int) -> None:
        start.wait()
        for n in range(12):
            key = paths.lesson_key("P", f"T{thread:02}-{n:02}")
            put(store_under_test, key, f"{thread}:{n}".encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(upload, range(16)))
    keys = listed(store_under_test)
    assert len(keys) == 16 * 12
    for thread in range(16):
        for n in range(12):
            body = store_under_test.store.get(paths.lesson_key("P", f"T{thread:02}-{n:02}"))
            assert body == f"{thread}:{n}".encode()
    if store_under_test.proxy is not None:
        puts = store_under_test.proxy.puts
        assert len(puts) == 16 * 12
        assert set(puts.values()) == {1}


def test_stores_describe_where_they_write(store_under_test: StoreUnderTest) -> None:
    shown = store_under_test.store.describe()
    if store_under_test.kind == "file":
        assert shown.startswith("folder ")
    elif store_under_test.kind == "s3":
        assert shown == f"s3://{store_under_test.bucket}"
    else:
        assert shown == f"s3://{store_under_test.bucket}/cdn/v1"
    for secret in TEST_CREDENTIALS:
        assert secret not in shown
        assert secret not in repr(store_under_test.store)


def test_stores_name_their_identity_with_bucket_and_prefix_and_no_secret(
    store_under_test: StoreUnderTest, tmp_path: Path
) -> None:
    identity = store_under_test.store.identity
    expected = {
        "file": f"file://{(tmp_path / 'cdn').resolve()}",
        "s3": f"s3://{store_under_test.bucket}",
        "s3-prefix": f"s3://{store_under_test.bucket}/cdn/v1",
    }
    assert identity == expected[store_under_test.kind]
    for secret in TEST_CREDENTIALS:
        assert secret not in identity


def test_the_store_marker_is_read_and_written_but_never_listed(
    store_under_test: StoreUnderTest,
) -> None:
    put(store_under_test, MARKER, b'{"store_id":"x"}')
    put(store_under_test, paths.manifest_key("P"))
    assert store_under_test.store.get(MARKER) == b'{"store_id":"x"}'
    assert listed(store_under_test) == [paths.manifest_key("P")]
    assert store_under_test.store.delete_prefix("") == 1
    assert store_under_test.store.get(MARKER) == b'{"store_id":"x"}'


def test_partial_writes_are_listed_apart_from_keys_and_deleted_like_them(
    store_under_test: StoreUnderTest,
) -> None:
    lesson = paths.lesson_key("P", "L1")
    put(store_under_test, lesson)
    store = store_under_test.store
    if not isinstance(store, FileStore):
        assert store.partials() == []  # an S3 PUT lands whole or not at all
        return
    left = [
        "plans/P/lessons/.tmp-k1ll3d.part",
        "plans/Q/subjects/.tmp-x.part",
        ".tmp-root.part",
    ]
    for name in left:
        path = store.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"a whole lesson body":')
    put(store_under_test, paths.lesson_key("P", ".tmp-named-so.part"))  # a key, not a partial
    assert listed(store_under_test) == sorted([lesson, paths.lesson_key("P", ".tmp-named-so.part")])
    assert store.partials("plans/P/") == ["plans/P/lessons/.tmp-k1ll3d.part"]
    assert store.partials() == sorted(left)
    store.delete(store.partials("plans/Q/"))
    assert store.partials() == [".tmp-root.part", "plans/P/lessons/.tmp-k1ll3d.part"]
    assert not (store.root / "plans/Q").exists()  # emptied folders are pruned


# -- S3 only -------------------------------------------------------------------------------


def test_the_store_prefix_isolates_stores_sharing_a_bucket(
    s3_proxy: S3FaultProxy, s3_bucket: str
) -> None:
    root = s3_store(s3_proxy.endpoint, s3_bucket)
    v1 = s3_store(s3_proxy.endpoint, s3_bucket, "cdn/v1")
    v2 = s3_store(s3_proxy.endpoint, s3_bucket, "/cdn/v2/")
    for store in (root, v1, v2):
        store.put(
            "plans/P/manifest.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT
        )
    assert list(v1.list_keys()) == ["plans/P/manifest.json"]
    assert v1.delete_prefix("") == 1
    assert list(v1.list_keys()) == []
    assert list(v2.list_keys()) == ["plans/P/manifest.json"]
    assert sorted(root.list_keys()) == ["cdn/v2/plans/P/manifest.json", "plans/P/manifest.json"]
    assert s3_proxy.puts["cdn/v1/plans/P/manifest.json"] == 1


def test_listing_follows_continuation_pages(s3_proxy: S3FaultProxy, s3_bucket: str) -> None:
    store = s3_store(s3_proxy.endpoint, s3_bucket, "cdn", page_size=10)
    keys = [paths.lesson_key("P", f"L{n:02}") for n in range(25)]
    for key in keys:
        store.put(key, b"{}", content_type=JSON_CONTENT_TYPE, cache_control=LONG)
    assert list(store.list_keys("plans/P/")) == keys
    assert store.delete_prefix("plans/P/") == 25
    listings = [r for r in s3_proxy.requests if "list-type=2" in r.query]
    assert len(listings) == 3 + 3
    assert [len(batch) for batch in s3_proxy.delete_batches] == [25]


def test_an_s3_identity_names_the_endpoint_host_but_never_its_credentials(
    s3_server: MotoS3Server,
) -> None:
    client = s3_client(s3_server.endpoint, "auto", *TEST_CREDENTIALS, 4)
    endpoint = "https://user:pass@acct.r2.cloudflarestorage.com:8443/"
    store = S3Store(client, "bucket", "cdn/v1", endpoint_url=endpoint)
    assert store.identity == "s3://bucket/cdn/v1?endpoint=acct.r2.cloudflarestorage.com:8443"
    assert S3Store(client, "bucket", "cdn/v1").identity == "s3://bucket/cdn/v1"


def test_folders_reached_by_different_paths_share_one_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cdn").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "cdn")
    same = {FileStore("cdn").identity, FileStore(tmp_path / "link").identity}
    assert same == {f"file://{(tmp_path / 'cdn').resolve()}"}
    assert FileStore("cdn2").identity != FileStore("cdn").identity


def test_a_put_failing_once_with_500_is_retried_by_the_client(
    s3_proxy: S3FaultProxy, s3_bucket: str
) -> None:
    store = s3_store(s3_proxy.endpoint, s3_bucket)
    s3_proxy.fail_puts(key="plans/P/manifest.json")
    store.put("plans/P/manifest.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT)
    assert s3_proxy.puts["plans/P/manifest.json"] == 2
    assert s3_proxy.failed_puts == ["plans/P/manifest.json"]
    assert store.get("plans/P/manifest.json") == b"{}"


def test_the_nth_put_fault_follows_that_key_through_its_retries(
    s3_proxy: S3FaultProxy, s3_bucket: str
) -> None:
    store = s3_store(s3_proxy.endpoint, s3_bucket, max_attempts=2)  # 2 retries: 3 attempts
    s3_proxy.fail_puts(nth=2, times=None)
    store.put("plans/P/a.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT)
    with pytest.raises(StoreError) as caught:
        store.put("plans/P/b.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT)
    store.put("plans/P/c.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT)
    assert caught.value.key == "plans/P/b.json"
    assert caught.value.detail == ("PutObject failed: InternalError (HTTP 500): injected failure")
    assert dict(s3_proxy.puts) == {"plans/P/a.json": 1, "plans/P/b.json": 3, "plans/P/c.json": 1}
    assert sorted(store.list_keys()) == ["plans/P/a.json", "plans/P/c.json"]


def test_keys_the_service_refuses_to_delete_are_all_reported(
    s3_proxy: S3FaultProxy, s3_bucket: str
) -> None:
    store = s3_store(s3_proxy.endpoint, s3_bucket, "cdn")
    keys = [paths.lesson_key("P", f"L{n}") for n in range(1, 4)]
    for key in keys:
        store.put(key, b"{}", content_type=JSON_CONTENT_TYPE, cache_control=LONG)
    s3_proxy.refuse_deletes("cdn/" + keys[0], "cdn/" + keys[2])
    with pytest.raises(StoreError) as caught:
        store.delete(keys)
    assert caught.value.key == keys[0]
    assert caught.value.detail == (
        f"2 keys not deleted: {keys[0]} (AccessDenied), {keys[2]} (AccessDenied)"
    )
    assert sorted(store.list_keys()) == [keys[0], keys[2]]


def test_a_missing_bucket_is_a_store_error_with_a_short_detail_and_no_secret(
    s3_proxy: S3FaultProxy,
) -> None:
    store = s3_store(s3_proxy.endpoint, "no-such-bucket-here")
    with pytest.raises(StoreError) as caught:
        store.put(
            "plans/P/manifest.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT
        )
    assert str(caught.value) == (
        "store error on 'plans/P/manifest.json': PutObject failed: NoSuchBucket (HTTP 404): "
        "The specified bucket does not exist"
    )
    with pytest.raises(StoreError, match="NoSuchBucket") as listing:
        list(store.list_keys("plans/"))
    assert listing.value.key == "plans/"
    for error in (caught.value, listing.value):
        for secret in TEST_CREDENTIALS:
            assert secret not in str(error)


def test_an_unreachable_endpoint_is_a_store_error(s3_bucket: str) -> None:
    client = s3_client("http://127.0.0.1:9", "us-east-1", *TEST_CREDENTIALS, 4, max_attempts=1)
    store = S3Store(client, s3_bucket, redact=TEST_CREDENTIALS)
    with pytest.raises(StoreError, match="EndpointConnectionError") as caught:
        store.get("plans/P/manifest.json")
    assert caught.value.key == "plans/P/manifest.json"


def test_error_details_never_show_a_credential(s3_server: MotoS3Server) -> None:
    access, secret = TEST_CREDENTIALS
    client: Any = s3_client(s3_server.endpoint, "us-east-1", access, secret, 4, max_attempts=1)
    store = S3Store(client, "b", redact=TEST_CREDENTIALS)
    error = ClientError(
        {"Error": {"Code": "InvalidAccessKeyId", "Message": f"key {access} / {secret} unknown"}},
        "PutObject",
    )
    assert store._detail(error) == "PutObject failed: InvalidAccessKeyId: key *** / *** unknown"


def test_the_client_uses_adaptive_retries_and_a_pool_as_large_as_the_uploads() -> None:
    client = s3_client("http://127.0.0.1:1", "auto", "a", "b", 24)
    config = client.meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 11}  # 10 retries
    assert config.max_pool_connections == 24
    assert (config.connect_timeout, config.read_timeout) == (10, 60)


def test_a_put_sends_its_body_without_waiting_for_100_continue(
    s3_server: MotoS3Server, s3_bucket: str
) -> None:
    """`Expect: 100-continue` would cost every upload one more round trip to the service."""
    client = s3_client(s3_server.endpoint, "us-east-1", *TEST_CREDENTIALS, 4)
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers))
    )
    store = S3Store(client, s3_bucket)
    store.put("plans/P/manifest.json", b"{}", content_type=JSON_CONTENT_TYPE, cache_control=SHORT)
    assert len(sent) == 1
    assert "Expect" not in sent[0]
    assert store.get("plans/P/manifest.json") == b"{}"


def test_one_s3_key_without_the_other_is_a_setting_error() -> None:
    with pytest.raises(SettingError) as caught:
        s3_client(None, None, "access", None, 10)
    assert str(caught.value) == (
        "missing setting s3_secret_key: s3_access_key and s3_secret_key go together"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/cdn", ("bucket", "cdn/")),
        ("s3://bucket/cdn/v1/", ("bucket", "cdn/v1/")),
    ],
)
def test_store_urls_name_a_bucket_and_a_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_store_url(url) == expected
