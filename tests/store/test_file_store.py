"""The local folder store: atomic, readable, confined under its root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from memora_cdn.core import paths
from memora_cdn.errors import StoreError
from memora_cdn.store import local
from memora_cdn.store.base import JSON_CONTENT_TYPE
from memora_cdn.store.local import FileStore


def put(store: FileStore, key: str, body: bytes = b"{}") -> None:
    store.put(key, body, content_type=JSON_CONTENT_TYPE, cache_control="public, max-age=60")


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "Ünïcode name", "x" * 140, "ا" * 140, "..", "%2e%2e", "a\\b", "+plus"]
)
def test_every_document_name_lands_inside_the_root_and_reads_back(
    tmp_path: Path, name: str
) -> None:
    store = FileStore(tmp_path / "cdn")
    key = paths.lesson_key("P/1", name)
    put(store, key, name.encode())
    assert store.get(key) == name.encode()
    written = [p for p in (tmp_path / "cdn").rglob("*") if p.is_file()]
    assert len(written) == 1
    assert written[0].resolve().is_relative_to((tmp_path / "cdn").resolve())
    assert list(store.list_keys()) == [key]


def test_a_long_name_is_one_file_named_by_its_key_not_a_chain_of_folders(tmp_path: Path) -> None:
    # The old folder store split a segment over 255 bytes into folders ending in `+`,
    # so the file no longer lay at the path its link named.
    store = FileStore(tmp_path / "cdn")
    name = "الدرس الأول: مقدمة في المعادلات الخطية وحل المسائل ١"
    key = paths.lesson_key("P", name)
    put(store, key)
    written = [p for p in (tmp_path / "cdn").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path / "cdn").as_posix() for p in written] == [key]
    assert list(store.list_keys()) == [key]


def test_a_key_segment_longer_than_a_file_name_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    key = "plans/P/lessons/" + "x" * 251 + ".json"
    with pytest.raises(StoreError) as caught:
        put(store, key)
    assert str(caught.value) == (
        f"store error on {key!r}: a key segment is 256 bytes, over the 255 a file name can hold"
    )
    assert not (tmp_path / "cdn").exists()
    store.delete([key])  # a key that cannot be stored is not there: not an error


def test_a_file_left_by_the_old_chain_of_folders_can_still_be_listed_and_deleted(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path)
    old = tmp_path / "plans" / ("p" * 200 + "+") / ("q" * 200 + "+") / ("r" * 200 + "+")
    old = old / ("s" * 200 + "+") / ("t" * 200 + "+") / "uuuu.json"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"{}")
    (key,) = store.list_keys()
    assert len(key.encode()) > 1_024
    store.delete([key])
    assert not (tmp_path / "plans").exists()


@pytest.mark.parametrize(
    "key", ["../escape.json", "plans/../../x.json", "plans//x.json", "/abs.json"]
)
def test_keys_that_would_leave_the_root_are_refused(tmp_path: Path, key: str) -> None:
    store = FileStore(tmp_path / "cdn")
    with pytest.raises(StoreError, match="key segment"):
        put(store, key)
    assert not (tmp_path / "escape.json").exists()


def test_files_are_written_readable_by_everyone_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put(store, "plans/P/manifest.json", b'{"a":1}')
    put(store, "plans/P/manifest.json", b'{"a":2}')
    path = tmp_path / "plans/P/manifest.json"
    assert path.read_bytes() == b'{"a":2}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.json"]


def test_a_failed_write_keeps_the_old_file_whole_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    put(store, "plans/P/manifest.json", b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match="No space left on device"):
        put(store, "plans/P/manifest.json", b"new")
    folder = tmp_path / "plans/P"
    assert (folder / "manifest.json").read_bytes() == b"old"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


def test_delete_prefix_removes_one_plan_and_its_empty_folders(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for key in ("plans/A/manifest.json", "plans/A/lessons/L.json", "plans/AB/manifest.json"):
        put(store, key)
    assert store.delete_prefix(paths.plan_prefix("A")) == 2
    assert list(store.list_keys()) == ["plans/AB/manifest.json"]
    assert not (tmp_path / "plans/A").exists()


def test_deleting_missing_keys_is_not_an_error(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.delete(["plans/P/lessons/nope.json"])
    assert store.get("plans/P/lessons/nope.json") is None


def test_a_put_into_a_folder_that_a_delete_pruned_creates_it_again(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put(store, "plans/P/lessons/L1.json", b"1")
    store.delete(["plans/P/lessons/L1.json"])
    assert not (tmp_path / "plans").exists()
    put(store, "plans/P/lessons/L2.json", b"2")
    assert store.get("plans/P/lessons/L2.json") == b"2"


def test_puts_are_flushed_to_disk_by_one_sync_of_the_file_system_not_one_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[str] = []
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append("fsync"))
    monkeypatch.setattr(os, "fdatasync", lambda fd: flushed.append("fdatasync"))
    monkeypatch.setattr(
        local, "_sync_file_system", lambda fd: flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
    )
    store = FileStore(tmp_path / "cdn")
    store.sync()  # nothing written yet: no folder, nothing to flush
    for n in range(20):
        put(store, f"plans/P/lessons/L{n}.json")
    assert flushed == []
    store.sync()
    assert flushed == [str(tmp_path / "cdn")]
