"""Typed errors, each carrying what went wrong; mapped to exit codes in one place."""

from __future__ import annotations

from memora_cdn.purge.base import PurgeReport


class MemoraCdnError(Exception):
    """Base of every error memora-cdn reports to a user (one line, no traceback)."""

    exit_code = 1


class SettingError(MemoraCdnError):
    """A setting is missing or has a value memora-cdn cannot use."""

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
    """The object store failed on a key."""

    exit_code = 6

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"store error on {key!r}: {detail}")


class UnknownDoctypeError(MemoraCdnError):
    """A change named a doctype memora-cdn does not follow."""

    exit_code = 2

    def __init__(self, doctype: str, known: list[str]) -> None:
        self.doctype = doctype
        super().__init__(f"unknown doctype {doctype!r}; memora-cdn follows: {', '.join(known)}")


class DocumentNotFoundError(MemoraCdnError):
    """`notify` named a document the source database does not hold."""

    exit_code = 8

    def __init__(self, doctype: str, name: str) -> None:
        self.doctype = doctype
        self.name = name
        super().__init__(f"no {doctype} named {name!r} in the source database; nothing queued")


class PurgeError(MemoraCdnError):
    """Some CDN URLs could not be purged; they are retried, the files are not re-uploaded."""

    exit_code = 9

    def __init__(self, keys: list[str], detail: str, report: PurgeReport | None = None) -> None:
        self.keys = keys
        self.detail = detail
        self.report = report or PurgeReport(failures=1)
        """What the purge did: calls made, URLs purged, calls that failed for good."""
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


class DatabaseLoginError(MemoraCdnError):
    """The database server answered but refused the user or password."""

    exit_code = 7

    def __init__(self, setting: str, url: str, detail: str) -> None:
        self.setting = setting
        self.url = url
        self.detail = detail
        super().__init__(
            f"the database at {url} refused the login: wrong password or user "
            f"(check {setting}): {detail}"
        )


class DatabaseDeniedError(MemoraCdnError):
    """The database accepted the login but refused what memora-cdn asked of it."""

    exit_code = 10

    def __init__(self, setting: str, url: str, detail: str) -> None:
        self.setting = setting
        self.url = url
        self.detail = detail
        super().__init__(f"access denied by the database at {url} ({setting}): {detail}")


class StateTablesDeniedError(DatabaseDeniedError):
    """The state database refuses CREATE: usually a read-only site database (SPEC §7)."""

    def __init__(self, setting: str, url: str, detail: str) -> None:
        MemoraCdnError.__init__(
            self,
            f"cannot create memora-cdn's state tables in {url}: {detail}; keep them in a "
            "database of their own with state_database_url, e.g. "
            "MEMORA_CDN_STATE_DATABASE_URL=sqlite:///memora-state.db (then `memora-cdn init`)",
        )
        self.setting = setting
        self.url = url
        self.detail = detail


class DatabaseNotFoundError(MemoraCdnError):
    """A database named by a setting does not exist (never created behind the user's back)."""

    exit_code = 8

    def __init__(self, setting: str, where: str) -> None:
        self.setting = setting
        self.where = where
        super().__init__(
            f"no database at {where} ({setting}); check the path, or create it with "
            "`memora-cdn init --content-schema` (or `memora-cdn demo`)"
        )


class PlanNotFoundError(MemoraCdnError):
    """Plans named on the command line that neither the source nor the index knows."""

    exit_code = 8

    def __init__(self, plans: list[str]) -> None:
        self.plans = plans
        names = ", ".join(repr(p) for p in plans)
        super().__init__(
            f"no plan named {names} in the source database or the published index; nothing rebuilt"
        )


class ForeignContentError(MemoraCdnError):
    """`demo` was pointed at a database holding content the demo did not seed."""

    exit_code = 2

    def __init__(self, table: str, names: list[str]) -> None:
        self.table = table
        self.names = names
        shown = ", ".join(repr(n) for n in names[:3]) + (" …" if len(names) > 3 else "")
        what = f"rows it did not seed ({shown})" if names else "a table it does not seed"
        super().__init__(
            f"the demo refuses this database: `{table}` holds {what}; "
            "point database_url at a database of the demo's own"
        )


class Interrupted(MemoraCdnError):
    """SIGINT/SIGTERM: the plan in hand went back to the queue (SPEC §8)."""

    exit_code = 130

    def __init__(self, *plans: str) -> None:
        self.plans = plans
        if not plans:
            super().__init__("interrupted")
        elif len(plans) == 1:
            super().__init__(f"interrupted: {plans[0]} was put back in the queue")
        else:
            super().__init__(f"interrupted: {', '.join(plans)} were put back in the queue")


class StoreWipedError(MemoraCdnError):
    """The index says the store holds files, but the store's marker is gone: the store was
    emptied or swapped, so the index cannot be trusted as the diff base."""

    exit_code = 11

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

    exit_code = 11

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

    exit_code = 12

    def __init__(self, deletes: int, limit: int) -> None:
        self.deletes = deletes
        self.limit = limit
        super().__init__(
            f"repair would delete {deletes} files, more than {limit}: nothing was changed;"
            " run `memora-cdn verify --repair --dry-run` to see them, then pass --yes"
        )


class OpenServerError(MemoraCdnError):
    """`serve` on a non-loopback host with no admin_token: the API would be open to anyone."""

    exit_code = 2

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"refusing to serve on {host}: admin_token is not set, so the admin API would be "
            "open to anyone who can reach it; set admin_token, or serve on 127.0.0.1"
        )
