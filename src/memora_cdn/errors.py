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


class KeyCollisionError(MemoraCdnError):
    """Two documents of a plan cannot both be stored; nothing of the plan was uploaded.

    `first` and `second` name the documents (e.g. "subject 'S' (search shard part 1)");
    `key` is where `first` goes, and `second_key` where `second` goes: the same key, or one
    inside `key` as a folder, which a folder store cannot hold next to a file `key`.
    """

    exit_code = 5

    def __init__(self, plan: str, first: str, key: str, second: str, second_key: str) -> None:
        self.plan = plan
        self.first = first
        self.key = key
        self.second = second
        self.second_key = second_key
        if second_key == key:
            where = f"would both be written to {key}"
        else:
            where = (
                f"cannot both be stored: {key} would be the file of the first"
                f" and a folder holding {second_key}"
            )
        super().__init__(
            f"plan {plan!r}: {first} and {second} {where}; nothing of the plan was uploaded"
            f" (rename one of them)"
        )
