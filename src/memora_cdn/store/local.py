"""A local folder as the CDN: atomic writes, made durable together by `sync`.
Design notes: docs/decisions/folder-store.md"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from memora_cdn.core.paths import MAX_KEY_BYTES, MAX_NAME_BYTES
from memora_cdn.errors import StoreError
from memora_cdn.store.base import MARKER

DURABILITY = "batch"
"""Atomic writes without an fsync each, made durable together by `sync` (the bench's bound
writes with the same durability)."""

_PARTIAL = (".tmp-", ".part")
"""A file being written is named `.tmp-….part` until it is renamed over its key."""


class FileStore:
    """The object store in a local folder: one file per key under `root`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    @property
    def identity(self) -> str:
        return f"file://{self.root}"

    def describe(self) -> str:
        return f"folder {self.root}"

    # -- key <-> path --------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        """The file a key is stored in; a key too long for S3 or a file system is refused."""
        path = self._confined(key)
        problem = _too_long(key)
        if problem:
            raise StoreError(key, problem)
        return path

    def _confined(self, key: str) -> Path:
        segments = key.split("/")
        if any(s in ("", ".", "..") or "\\" in s or "\x00" in s for s in segments):
            raise StoreError(key, "a key segment is empty, '.', '..' or not a plain name")
        path = self.root.joinpath(*segments)
        if not path.is_relative_to(self.root) or path == self.root:
            raise StoreError(key, "resolves outside the store root")
        return path

    def key_of(self, path: Path) -> str:
        return "/".join(path.relative_to(self.root).parts)

    # -- operations ---------------------------------------------------------------------

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        path = self.path_of(key)
        try:
            temp = _write_part(path.parent, body)
            try:
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as error:
            raise StoreError(key, error.strerror or str(error)) from error

    def sync(self) -> None:
        """Flush every write so far to disk: one `syncfs` of the file system holding the
        root (`sync` where there is no `syncfs`)."""
        try:
            fd = os.open(self.root, os.O_RDONLY)
        except FileNotFoundError:
            return  # nothing was ever written here
        except OSError as error:
            raise StoreError("", f"cannot flush {self.root}: {error.strerror}") from error
        try:
            _sync_file_system(fd)
        except OSError as error:
            raise StoreError("", f"cannot flush {self.root}: {error.strerror}") from error
        finally:
            os.close(fd)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(key, error.strerror or str(error)) from error

    def delete(self, keys: Sequence[str]) -> None:
        """A key with a segment longer than a file name cannot be there (one recorded by an
        older layout): not an error either. Any other key is deleted even if put would now
        refuse it, so that every file that `list_keys` finds can be deleted."""
        for key in keys:
            if _longest_segment(key) > MAX_NAME_BYTES:
                continue
            path = self._confined(key)
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                raise StoreError(key, error.strerror or str(error)) from error
            self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix))
        self.delete(keys)
        return len(keys)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for key, partial in self._files(prefix):
            if not partial and key != MARKER:
                yield key

    def partials(self, prefix: str = "") -> list[str]:
        """`.tmp-….part` files that a killed write left behind, never renamed over a key."""
        return [key for key, partial in self._files(prefix) if partial]

    def _files(self, prefix: str) -> Iterator[tuple[str, bool]]:
        """Every file under `prefix` as (key, is it a partial write), in key order."""
        folder = prefix.rpartition("/")[0]
        start = self.path_of(folder) if folder else self.root
        if not start.is_dir():
            return
        for directory, folders, files in os.walk(start):
            folders.sort()
            for name in sorted(files):
                key = self.key_of(Path(directory, name))
                if key.startswith(prefix):
                    yield key, name.startswith(_PARTIAL[0]) and name.endswith(_PARTIAL[1])

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty by a delete, up to the root."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _write_part(folder: Path, body: bytes) -> str:
    """Write `body` to a new part file in `folder` (created when missing); returns its path."""
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=_PARTIAL[0], suffix=_PARTIAL[1])
    except FileNotFoundError:  # a new folder, or one a delete pruned
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=_PARTIAL[0], suffix=_PARTIAL[1])
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            os.fchmod(handle.fileno(), 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def _sync_file_system(fd: int) -> None:
    """syncfs(2) on the file system holding `fd` where the C library has it (Linux), so
    other file systems are not flushed too; `os.sync()` elsewhere."""
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is None:
        os.sync()
    elif syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _too_long(key: str) -> str | None:
    """Why a key is too long to be stored, on this store or any other; None if it is not."""
    longest = _longest_segment(key)
    if longest > MAX_NAME_BYTES:
        return f"a key segment is {longest} bytes, over the {MAX_NAME_BYTES} a file name can hold"
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        return f"the key is {size:,} bytes, over the {MAX_KEY_BYTES:,} that S3 and R2 accept"
    return None


def _longest_segment(key: str) -> int:
    return max(len(segment.encode()) for segment in key.split("/"))
