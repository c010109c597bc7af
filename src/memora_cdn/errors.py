"""Typed errors, each carrying what went wrong; mapped to exit codes in one place."""

from __future__ import annotations


class MemoraCdnError(Exception):
    """Base of every error memora-cdn reports to a user (one line, no traceback)."""

    exit_code = 1


class SettingError(MemoraCdnError):
    exit_code = 2

    def __init__(self, name: str, value: object, reason: str) -> None:
        self.name = name
        self.value = value
        self.reason = reason
        if value is None:
            super().__init__(f"missing setting {name}: {reason}")
        else:
            super().__init__(f"invalid setting {name}={value}: {reason}")


class SourceSchemaError(MemoraCdnError):
    """The site database lacks a table or column a build needs."""

    exit_code = 3

    def __init__(self, table: str, column: str | None = None) -> None:
        self.table = table
        self.column = column
        if column is None:
            message = f"source table `{table}` is missing; run `memora-cdn init --content-schema`"
        else:
            message = f"source table `{table}` has no column `{column}`, which memora-cdn needs"
        super().__init__(message)


class UnavailableError(MemoraCdnError):
    """A database, store or service could not be reached."""

    exit_code = 4

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"cannot reach {what}: {detail}")


class InvalidDocumentsError(MemoraCdnError):
    """A plan rendered documents that fail their schema; nothing of it was uploaded."""

    exit_code = 5

    def __init__(self, plan: str, problems: list[str]) -> None:
        self.plan = plan
        self.problems = problems
        shown = "; ".join(problems[:3]) + (
            f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        super().__init__(f"plan {plan!r} rendered invalid documents, nothing uploaded: {shown}")


class StoreError(MemoraCdnError):
    exit_code = 6

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"store error on {key!r}: {detail}")


class UnknownDoctypeError(MemoraCdnError):
    exit_code = 2

    def __init__(self, doctype: str, known: list[str]) -> None:
        self.doctype = doctype
        super().__init__(f"unknown doctype {doctype!r}; memora-cdn follows: {', '.join(known)}")


class DocumentNotFoundError(MemoraCdnError):
    exit_code = 8

    def __init__(self, doctype: str, name: str) -> None:
        self.doctype = doctype
        self.name = name
        super().__init__(f"no {doctype} named {name!r} in the source database; nothing queued")


class PurgeError(MemoraCdnError):
    """Some CDN URLs could not be purged; they are retried, the files are not re-uploaded."""

    exit_code = 9

    def __init__(self, keys: list[str], detail: str) -> None:
        self.keys = keys
        self.detail = detail
        super().__init__(f"CDN purge failed for {len(keys)} URLs: {detail}")


class StoreWipedError(MemoraCdnError):
    """The index says the store holds files, but the store's marker is gone: the store was
    emptied or swapped, so the index cannot be trusted as the diff base."""

    exit_code = 10

    def __init__(self, store: str, indexed: int, marker: str) -> None:
        self.store = store
        self.indexed = indexed
        super().__init__(
            f"store {store} has no {marker} but the index says it holds {indexed} files there:"
            " it was emptied or swapped, so nothing was uploaded; run `memora-cdn verify` to"
            " compare them, then `memora-cdn verify --repair` to upload what is missing"
        )


class StoreListingError(MemoraCdnError):
    """The store lists as empty (or cannot be listed) while the index says it holds files."""

    exit_code = 10

    def __init__(self, store: str, indexed: int, failure: str | None = None) -> None:
        self.store = store
        self.indexed = indexed
        self.failure = failure
        if failure is None:
            super().__init__(
                f"store {store} lists no files under plans/ but the index says it holds"
                f" {indexed} there: nothing was changed; check the store setting (folder,"
                " bucket, prefix), and if the store really was emptied, run"
                " `memora-cdn verify --repair --yes` to upload everything again"
            )
        else:
            super().__init__(
                f"store {store} cannot be listed ({failure}) but the index says it holds"
                f" {indexed} files there: nothing was changed"
            )


class RepairRefusedError(MemoraCdnError):
    """A repair would delete more files than it may without confirmation."""

    exit_code = 11

    def __init__(self, deletes: int, limit: int) -> None:
        self.deletes = deletes
        self.limit = limit
        super().__init__(
            f"repair would delete {deletes} files, more than {limit}: nothing was changed;"
            " run `memora-cdn verify --repair --dry-run` to see them, then pass --yes"
        )
