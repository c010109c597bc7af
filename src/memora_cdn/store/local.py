"""A local folder as the CDN: the embedded default, and what `memora-cdn validate` reads.

Writes are atomic (a temporary file in the same folder, then a rename), files are readable
by everyone (0644), and no key can reach outside the root, whatever the document names.
A key segment longer than the file system allows is stored as a chain of folders, each
name ending in `+`, a character a percent-encoded segment never contains.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from memora_cdn.errors import StoreError
from memora_cdn.store.base import MARKER

_MAX_NAME_BYTES = 255
_CHUNK = 200
_CONTINUED = "+"
_PARTIAL = (".tmp-", ".part")
"""A file being written is named `.tmp-….part` until it is renamed over its key."""


class FileStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    @property
    def identity(self) -> str:
        return f"file://{self.root}"

    def describe(self) -> str:
        return f"folder {self.root}"

    # -- key <-> path --------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        parts: list[str] = []
        for segment in key.split("/"):
            if segment in ("", ".", "..") or "\\" in segment or "\x00" in segment:
                raise StoreError(key, "a key segment is empty, '.', '..' or not a plain name")
            if _CONTINUED in segment:
                raise StoreError(key, f"a key segment contains {_CONTINUED!r}")
            while len(segment.encode()) > _MAX_NAME_BYTES:
                parts.append(segment[:_CHUNK] + _CONTINUED)
                segment = segment[_CHUNK:]
            parts.append(segment)
        path = self.root.joinpath(*parts)
        if not path.is_relative_to(self.root) or path == self.root:
            raise StoreError(key, "resolves outside the store root")
        return path

    def key_of(self, path: Path) -> str:
        key = ""
        for part in path.relative_to(self.root).parts:
            key += part[:-1] if part.endswith(_CONTINUED) else part + "/"
        return key.rstrip("/")

    # -- operations ---------------------------------------------------------------------

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        path = self.path_of(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_PARTIAL[0], suffix=_PARTIAL[1])
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(body)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temp, 0o644)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as error:
            raise StoreError(key, error.strerror or str(error)) from error

    def get(self, key: str) -> bytes | None:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(key, error.strerror or str(error)) from error

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self.path_of(key)
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
