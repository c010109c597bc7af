"""How the commands show what they did: publish progress and results, dead letters, what
`verify` found, and `status` as text or JSON (SPEC §8). Imported by the commands that run."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memora_cdn.commands.context import err, out
from memora_cdn.core.model import Orphan, SyncStatus
from memora_cdn.operations import iso, sync_entry_json
from memora_cdn.state.published_index import PlanPublication
from memora_cdn.state.sync_log import SyncLogEntry
from memora_cdn.store.base import MARKER

if TYPE_CHECKING:
    from memora_cdn.publish import PublishResult
    from memora_cdn.queue.base import DeadLetter
    from memora_cdn.store.verify import VerifyReport
    from memora_cdn.sync.processor import BuildOutcome

_SHOWN_WARNINGS = 20


# -- publishing -------------------------------------------------------------------------------


@contextlib.contextmanager
def publishing_progress(total: int) -> Iterator[Callable[[BuildOutcome], None]]:
    """A progress bar on stderr (on a terminal only) while plans are built: each outcome
    advances it, and a failure is printed with when it is retried."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("Publishing", total=max(total, 1))

        def advance(outcome: BuildOutcome) -> None:
            progress.update(task, description=f"Published {outcome.plan}", advance=1)
            if outcome.error is not None:
                when = f"; retry at {iso(outcome.retry_at)}" if outcome.retry_at else ""
                state = "dead-lettered" if outcome.status is SyncStatus.DEAD_LETTER else "failed"
                err.print(f"{state} {outcome.plan}: {outcome.error}{when}", markup=False)

        yield advance


def print_results(results: Iterable[PublishResult]) -> None:
    """A table of the plans published, the totals uploaded and deleted, and their warnings."""
    results = list(results)
    table = Table(title=None, show_edge=False)
    widest = max((len(r.plan) for r in results), default=4)
    table.add_column("plan", no_wrap=True, min_width=widest)
    for column in ("files", "bytes", "lessons", "uploaded", "deleted", "warn"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in results:
        if r.removed:
            label = "removed" if r.counts.files_deleted else "unpublished"
            table.add_row(r.plan, label, "", "", "", str(r.counts.files_deleted), "")
            continue
        table.add_row(
            r.plan,
            str(r.files),
            f"{r.bytes_total:,}",
            str(r.lessons),
            str(r.counts.files_uploaded),
            str(r.counts.files_deleted),
            str(len(r.warnings)),
        )
    if results:
        out.print(table)
    uploaded = sum(r.counts.files_uploaded for r in results)
    deleted = sum(r.counts.files_deleted for r in results)
    if uploaded == 0 and deleted == 0:
        if results:  # nothing built (all skipped) is never "up to date"
            out.print(f"Nothing to upload: all {len(results)} plans are up to date.")
    else:
        sent = sum(r.counts.bytes_uploaded for r in results)
        out.print(f"Uploaded {uploaded} files ({sent:,} bytes), deleted {deleted}.")
    warned = [(r.plan, w) for r in results for w in r.warnings]
    for plan, warning in warned[:_SHOWN_WARNINGS]:
        err.print(f"warning: {plan}: {warning}", highlight=False, markup=False)
    if len(warned) > _SHOWN_WARNINGS:
        more = len(warned) - _SHOWN_WARNINGS
        err.print(f"... and {more} more warnings (see `memora-cdn status`)")


# -- dead letters and verify ------------------------------------------------------------------


def print_dead_letters(letters: list[DeadLetter]) -> None:
    """The dead-lettered plans with their attempts and last error, or that there are none."""
    if not letters:
        out.print("No dead letters.")
        return
    table = Table("plan", "attempts", "failed at", "last error", show_edge=False)
    for letter in letters:
        table.add_row(
            letter.plan, str(letter.attempts), iso(letter.failed_at) or "", letter.last_error or ""
        )
    out.print(table)


def print_verify(report: VerifyReport, *, repairing: bool, never_published: str | None) -> None:
    """One line per drifted key (and with `repairing`, per repair), then the count;
    `never_published` names a store the index holds nothing for."""
    lines = [
        *(("missing", key) for key in report.missing),
        *(("unexpected", key) for key in report.unexpected),
        *(("corrupt", key) for key in report.corrupt),
        *(("partial", key) for key in report.partial),
    ]
    if report.marker_missing:
        lines.append(("missing", MARKER))
    if repairing:
        done = "would " if report.dry_run else ""
        lines += [("kept (a manifest links it)", key) for key in report.linked]
        lines += [(f"{done}delete", key) for key in report.deleted]
        lines += [(f"{done}re-upload", key) for key in report.reupload]
        lines += [(f"{done}rebuild", plan) for plan in report.plans_to_rebuild]
    for label, key in lines:
        out.print(f"{label}: {key}", markup=False, highlight=False)
    drift = (
        len(report.missing + report.unexpected + report.corrupt + report.partial)
        + report.marker_missing
    )
    out.print(f"Checked {report.checked} files: {drift} drifted.", highlight=False)
    if never_published is not None:
        out.print(
            f"Nothing was ever published to store {never_published} (check the store setting;"
            " `memora-cdn sync --all` publishes every plan there).",
            markup=False,
            highlight=False,
        )


# -- status -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """The queue as `status` shows it: its backend and its plans by state."""

    backend: str
    pending: int
    processing: int
    retrying: int
    dead_letter: int


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `memora-cdn status` shows: the queue, publications, latest syncs and orphans
    (None, with `orphans_error`, when they could not be read)."""

    queue: QueueSummary
    plans: list[PlanPublication]
    recent_syncs: list[SyncLogEntry]
    orphans: list[Orphan] | None
    orphans_error: str | None = None

    def to_json(self) -> str:
        """The JSON of `status --json`; sync log rows as the HTTP API shows them."""
        payload = asdict(self)
        payload["recent_syncs"] = [sync_entry_json(entry) for entry in self.recent_syncs]
        if self.orphans_error is None:
            del payload["orphans_error"]
        return json.dumps(payload, ensure_ascii=False, indent=2, default=_json_value)


def _json_value(value: object) -> object:
    """`json.dumps`' fallback: datetimes as SPEC §8 writes them (`2026-12-02T10:00:00Z`)."""
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_status(report: StatusReport) -> None:
    """`status` as text: the queue line, a table of publications, the latest syncs, orphans."""
    queue = report.queue
    out.print(
        f"Queue ({queue.backend}): {queue.pending} pending, {queue.processing} processing, "
        f"{queue.retrying} retrying, {queue.dead_letter} dead letters",
        highlight=False,
    )
    table = Table("plan", "files", "bytes", "last published", show_edge=False)
    for p in report.plans:
        table.add_row(p.plan_id, str(p.files), f"{p.bytes:,}", iso(p.last_published_at) or "")
    out.print(table if report.plans else "Nothing published yet.")
    if report.recent_syncs:
        out.print(_sync_table(report.recent_syncs))
    if report.orphans is None:
        out.print(f"Orphans: not checked ({report.orphans_error})", markup=False, highlight=False)
    elif report.orphans:
        out.print(f"Orphans (skipped in every plan): {len(report.orphans)}", highlight=False)
        for o in report.orphans:
            out.print(f"  {o.warning()}", markup=False, highlight=False)
    else:
        out.print("No orphans.")


def _sync_table(entries: list[SyncLogEntry]) -> Table:
    columns = ("id", "plan", "status", "trigger", "started", "up", "del", "warn", "error")
    table = Table(*columns, show_edge=False)
    for e in entries:
        table.add_row(
            str(e.id),
            e.plan_id,
            e.status.value,
            e.triggered_by.value,
            iso(e.started_at) or "",
            str(e.counts.files_uploaded),
            str(e.counts.files_deleted),
            str(len(e.warnings)),
            e.error_message or "",
        )
    return table
