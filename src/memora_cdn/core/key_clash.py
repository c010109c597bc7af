"""Two documents of a plan that would get one key: a build error naming both (SPEC §3)."""

from __future__ import annotations

from collections.abc import Sequence

from memora_cdn.core import paths
from memora_cdn.core.documents import Document
from memora_cdn.core.paths import DocKind
from memora_cdn.errors import KeyCollisionError


def check_keys(plan: str, documents: Sequence[Document]) -> None:
    """Raise `KeyCollisionError` naming both documents when two would get one key (or a file
    and a folder of one name), before anything is uploaded."""
    clash = paths.first_clash((document.key, document) for document in documents)
    if clash is not None:
        (key, first), (second_key, second) = clash
        raise KeyCollisionError(plan, _identity(first), key, _identity(second), second_key)


def _identity(document: Document) -> str:
    """How a message names a document: `lesson 'L1'`, `subject 'S' (search shard part 2)`."""
    if document.kind is DocKind.SEARCH_SHARD:
        parsed = paths.parse_key(document.key)
        part = f" part {parsed.part}" if parsed is not None and parsed.part else ""
        return f"subject {document.content['subject_id']!r} (search shard{part})"
    if document.kind in (DocKind.MANIFEST, DocKind.SEARCH_INDEX):
        return f"the {document.kind.value.replace('_', ' ')}"
    return f"{document.kind.value} {document.content['id']!r}"
