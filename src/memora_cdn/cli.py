"""The `memora-cdn` command line (SPEC §8).

Every command reads the settings, builds the adapters through the composition root, and
reports failures as one line on stderr with a non-zero exit status (see `errors.py`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from memora_cdn.core.events import Action
from memora_cdn.core.model import Orphan, SyncStatus, Trigger
from memora_cdn.errors import (
    Interrupted,
    MemoraCdnError,
    PlanNotFoundError,
    UnavailableError,
)
from memora_cdn.store.base import MARKER, REPAIR_DELETE_LIMIT

if TYPE_CHECKING:  # the modules behind the commands are imported by the commands that run
    from memora_cdn.app import App
    from memora_cdn.publish import PublishResult
    from memora_cdn.settings import Settings
    from memora_cdn.sync.intake import IntakeResult
    from memora_cdn.sync.processor import BatchReport, BuildOutcome
    from memora_cdn.sync.scan import Scanner

app = typer.Typer(
    name="memora-cdn",
    help="Compile a Memora learning catalogue into per-plan static JSON on a CDN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
log = logging.getLogger("memora_cdn")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (MEMORA_CDN_* variables override it).",
        show_default=False,
    ),
]


F = TypeVar("F", bound=Callable[..., None])


dead_letter_app = typer.Typer(
    help="Plans that failed max_retries times: list, retry or clear them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(dead_letter_app, name="dead-letter")


def command(function: F) -> F:
    """Register a command whose errors end as one line on stderr and an exit status."""
    app.command()(_guarded(function))
    return function


def dead_letter_command(name: str) -> Callable[[F], F]:
    def register(function: F) -> F:
        dead_letter_app.command(name)(_guarded(function))
        return function

    return register


def _guarded(function: F) -> Callable[..., None]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except MemoraCdnError as error:
            _fail(str(error), error.exit_code)
        except KeyboardInterrupt:
            _fail(str(Interrupted()), Interrupted.exit_code)
        except Exception as error:
            from sqlalchemy.exc import DBAPIError, OperationalError

            if isinstance(error, OperationalError):
                unavailable = UnavailableError("the database", _first_line(error.orig))
                _fail(str(unavailable), unavailable.exit_code)
            elif isinstance(error, DBAPIError):
                _fail(f"database error: {_first_line(error.orig)}", 1)
            raise

    return guarded


def _first_line(error: object) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


class _OneLine(logging.Handler):
    """Warnings of a one-shot command: one line each on stderr, never a traceback (the
    command reports its failures itself)."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"warning: {record.getMessage()}", markup=False, highlight=False)


_one_line = _OneLine(logging.WARNING)


@app.callback()
def _root(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config
    if _one_line not in log.handlers:
        log.addHandler(_one_line)


def _settings(ctx: typer.Context) -> Settings:
    from memora_cdn.settings import load_settings

    config: Path | None = ctx.find_root().obj
    return load_settings(config)


def running(settings: Settings, *, create: bool = False) -> contextlib.AbstractContextManager[App]:
    """`memora_cdn.app.running`, imported when a command runs (`--help` needs none of it)."""
    from memora_cdn.app import running as app_running

    return app_running(settings, create=create)


def make_engine(url: str) -> Any:
    """`memora_cdn.database.make_engine`, imported when a command runs."""
    from memora_cdn.database import make_engine as app_make_engine

    return app_make_engine(url)


# -- init -----------------------------------------------------------------------------------


@command
def init(
    ctx: typer.Context,
    content_schema: Annotated[
        bool, typer.Option("--content-schema", help="Also create the Frappe-layout content tables.")
    ] = False,
) -> None:
    """Create memora-cdn's state tables (and, for standalone use, the content tables).

    Example: memora-cdn init --content-schema
    """
    from memora_cdn.source.schema import content_metadata

    settings = _settings(ctx)
    with running(settings, create=True) as application:
        if content_schema:
            content_metadata().create_all(application.source.engine)
    what = "state and content tables" if content_schema else "state tables"
    out.print(f"Created the {what} (existing tables were left as they were).")


# -- publishing -----------------------------------------------------------------------------


def _process(
    application: App, *, plans: Collection[str] | None = None, stop: threading.Event | None = None
) -> BatchReport:
    """Build what is due now (Manual trigger) with a progress bar; failures are retried later
    by the worker, and make the command exit non-zero."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    total = application.queue.stats(application.now()).pending if plans is None else len(plans)
    from memora_cdn.app import BUILD_PROCESSES

    processor = application.processor(stop, processes=BUILD_PROCESSES)
    with (
        _sigterm_interrupts(),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("Publishing", total=max(total, 1))

        def advance(outcome: BuildOutcome) -> None:
            progress.update(task, description=f"Published {outcome.plan}", advance=1)
            if outcome.error is not None:
                when = f"; retry at {_iso(outcome.retry_at)}" if outcome.retry_at else ""
                state = "dead-lettered" if outcome.status is SyncStatus.DEAD_LETTER else "failed"
                err.print(f"{state} {outcome.plan}: {outcome.error}{when}", markup=False)

        report = processor.run(Trigger.MANUAL, plans=plans, on_outcome=advance)
    succeeded = [o.result for o in report.succeeded if o.result is not None]
    if succeeded or not report.failed:
        _print_results(succeeded)
    return report


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C while plans are built: the plan in hand goes back to
    the queue and the command exits 130 (SPEC §8)."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _every_plan(application: App) -> list[str]:
    from memora_cdn.operations import every_plan

    return every_plan(application)


def _exit_for(report: BatchReport) -> None:
    """A batch with failures exits with its first failure's code (errors.py)."""
    if report.failed:
        raise typer.Exit(report.failed[0].exit_code or 1)


def _print_results(results: Iterable[PublishResult]) -> None:
    from rich.table import Table

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
    for plan, warning in warned[:20]:
        err.print(f"warning: {plan}: {warning}", highlight=False, markup=False)
    if len(warned) > 20:
        err.print(f"... and {len(warned) - 20} more warnings (see `memora-cdn status`)")


@command
def sync(
    ctx: typer.Context,
    all_plans: Annotated[bool, typer.Option("--all", help="Queue every plan first.")] = False,
) -> None:
    """Process the queue now; with --all, queue every plan first (a full rebuild).

    Example: memora-cdn sync --all
    """
    settings = _settings(ctx)
    with running(settings) as application:
        if all_plans:
            plans = _every_plan(application)
            application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        else:
            queue = application.queue.stats(application.now())
            if queue.pending == 0:
                out.print("Nothing pending.")
                if queue.processing:
                    held = f"{queue.processing} plan{'s are' if queue.processing != 1 else ' is'}"
                    out.print(f"skipped: {held} being built by another worker.")
                return
        _exit_for(_process(application))


@command
def rebuild(
    ctx: typer.Context,
    plans: Annotated[list[str], typer.Argument(help="Plan names.", show_default=False)],
) -> None:
    """Rebuild the given plans now (a missing or unpublished plan has its folder removed).

    A plan another worker is building right now is queued to be built again after it.

    Example: memora-cdn rebuild PLAN-G10-SCI PLAN-G12-SCI
    """
    settings = _settings(ctx)
    with running(settings) as application:
        unknown = sorted(set(plans) - set(_every_plan(application)))
        if unknown:
            raise PlanNotFoundError(unknown)
        application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        report = _process(application, plans=plans)
        built = {o.plan for o in report.outcomes}
        for plan in plans:
            if plan not in built:
                out.print(
                    f"skipped: {plan} is being built by another worker; "
                    "queued to be built again after it.",
                    markup=False,
                    highlight=False,
                )
        _exit_for(report)


@command
def demo(
    ctx: typer.Context,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve it over HTTP, as `serve` does.")
    ] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="With --serve: port to listen on.", min=0, max=65535)
    ] = 8000,
) -> None:
    """Seed a realistic demo catalogue into the embedded default and publish it.

    Example: memora-cdn demo --serve --port 8000
    """
    from memora_cdn.demo import refuse_foreign_content, seed
    from memora_cdn.http.server import check_host

    settings = _settings(ctx)
    if serve:
        check_host(settings, host)
    engine = make_engine(settings.database_url)
    try:
        refuse_foreign_content(engine)
    finally:
        engine.dispose()
    with running(settings, create=True) as application:
        seeded = seed(application.source.engine)
        out.print(
            f"Demo catalogue: {seeded.total} rows added"
            if seeded.total
            else "Demo catalogue already seeded: no rows added."
        )
        plans = _every_plan(application)
        application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        report = _process(application)
        out.print(f"Store: {application.store.describe()}")
        _exit_for(report)
        if serve:
            _serve(application, host, port)


# -- change tracking -------------------------------------------------------------------------


@command
def notify(
    ctx: typer.Context,
    doctype: Annotated[str, typer.Argument(help='e.g. "Memora Lesson" (or just "Lesson").')],
    name: Annotated[str, typer.Argument(help="The document's name.")],
    action: Annotated[Action, typer.Option(help="What happened to it.")] = Action.UPDATE,
    old_name: Annotated[
        str | None, typer.Option("--old-name", help="The name before a rename.")
    ] = None,
) -> None:
    """Tell memora-cdn a document changed: its affected plans are queued.

    Example: memora-cdn notify "Memora Lesson" LES-00042 --action update
    """
    settings = _settings(ctx)
    with running(settings) as application:
        result = application.intake.notify(doctype, name, action, old_name)
    if not result.plans:
        out.print("No published plan shows that document: nothing queued.")
        return
    waiting = sorted(result.plans - set(result.scheduled))
    out.print(f"Queued: {', '.join(result.scheduled) or '-'}", markup=False, highlight=False)
    if waiting:
        out.print(f"Already queued: {', '.join(waiting)}", markup=False, highlight=False)


def _scan(application: App, scanner: Scanner | None = None) -> IntakeResult:
    """One scan of the source: events queued first, then the watermarks advance."""
    return application.scan(scanner)


@command
def scan(ctx: typer.Context) -> None:
    """Poll the source for changed and deleted documents and queue the plans they affect.

    Example: memora-cdn scan && memora-cdn sync
    """
    settings = _settings(ctx)
    with running(settings) as application:
        queued = _scan(application)
    out.print(
        f"{queued.events} changes found; {len(queued.plans)} plans affected, "
        f"{len(queued.scheduled)} newly queued.",
        highlight=False,
    )


@command
def worker(ctx: typer.Context) -> None:
    """Run the scheduler: scan, batch every interval or at the threshold, retry failures.

    Stops cleanly on SIGTERM or Ctrl-C, after the plan in hand.

    Example: MEMORA_CDN_BATCH_INTERVAL_MINUTES=1 memora-cdn worker
    """
    settings = _settings(ctx)
    log.removeHandler(_one_line)  # a long-running process logs everything, with tracebacks
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if not stop.is_set():
            err.print(
                f"{signal.Signals(signum).name}: stopping after the plan in hand", markup=False
            )
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with running(settings) as application:
        runner = application.worker(stop, on_batch=_log_batch)
        mode = "building in-process" if runner.dispatch is None else "feeding RQ queue memora-cdn"
        log.info(
            "worker %s started (queue: %s, %s)",
            application.worker_id,
            application.queue.name,
            mode,
        )
        runner.run()
        log.info("worker %s stopped", application.worker_id)


def _log_batch(report: BatchReport) -> None:
    log.info(
        "%s batch: %d built, %d failed",
        report.trigger.value,
        len(report.succeeded),
        len(report.failed),
    )


@dead_letter_command("list")
def dead_letter_list(ctx: typer.Context) -> None:
    """List dead-lettered plans with their last error.

    Example: memora-cdn dead-letter list
    """
    from rich.table import Table

    settings = _settings(ctx)
    with running(settings) as application:
        letters = application.queue.dead_letters()
    if not letters:
        out.print("No dead letters.")
        return
    table = Table("plan", "attempts", "failed at", "last error", show_edge=False)
    for letter in letters:
        table.add_row(
            letter.plan, str(letter.attempts), _iso(letter.failed_at) or "", letter.last_error or ""
        )
    out.print(table)


@dead_letter_command("retry")
def dead_letter_retry(
    ctx: typer.Context, plan: Annotated[str, typer.Argument(help="The plan to retry.")]
) -> None:
    """Put a dead-lettered plan back in the queue with a fresh retry budget.

    Example: memora-cdn dead-letter retry PLAN-G10-SCI
    """
    from memora_cdn.operations import retry_dead_letter

    settings = _settings(ctx)
    with running(settings) as application:
        if not retry_dead_letter(application, plan):
            raise typer.BadParameter(f"{plan!r} is not in the dead letter", param_hint="PLAN")
    out.print(f"{plan} queued again; `memora-cdn sync` or the worker will build it.")


@dead_letter_command("clear")
def dead_letter_clear(
    ctx: typer.Context,
    plan: Annotated[str | None, typer.Argument(help="The plan to forget.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Forget every dead letter.")] = False,
) -> None:
    """Forget a dead-lettered plan, or with --all every one of them.

    Example: memora-cdn dead-letter clear PLAN-G10-SCI
    """
    if (plan is None) == (not every):
        _fail("name one plan to clear, or --all to clear every dead letter (not both)", 2)
    settings = _settings(ctx)
    with running(settings) as application:
        cleared = application.queue.clear_dead(plan)
    out.print(f"Cleared {cleared} dead letter{'s' if cleared != 1 else ''}.")


# -- serve ---------------------------------------------------------------------------------


@command
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
) -> None:
    """Serve the admin API, the Frappe webhook and /healthz over HTTP (SIGTERM stops it).

    Example: memora-cdn serve --port 8000
    """
    from memora_cdn.http.server import check_host

    settings = _settings(ctx)
    check_host(settings, host)
    with running(settings) as application:
        _serve(application, host, port)


def _serve(application: App, host: str, port: int) -> None:
    """`serve`, and `demo --serve` after its publish: the same server, its URL announced."""
    from memora_cdn.http.server import serve_app

    def announce(url: str) -> None:
        out.print(f"Serving on {url} (Ctrl-C stops it)", markup=False, highlight=False)

    serve_app(application, host, port, announce)
    out.print("Stopped.")


# -- inspection ----------------------------------------------------------------------------


@command
def validate(
    directory: Annotated[Path, typer.Argument(help="Store root folder (holds plans/).")],
) -> None:
    """Validate every published file under DIR against its JSON Schema, and every link.

    Example: memora-cdn validate ./cdn-out
    """
    from memora_cdn.contracts.validate import validate_tree

    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="DIR")
    problems = validate_tree(directory)
    for problem in problems:
        out.print(str(problem), markup=False, highlight=False)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        err.print(f"{len(problems)} {noun} found under {directory}.")
        raise typer.Exit(1)
    files = sum(1 for path in directory.rglob("*.json") if path.is_file())
    out.print(f"All {files} files under {directory} are valid.")


@command
def verify(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Delete strays no manifest links; re-upload what is missing or wrong."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what --repair would do; change nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help=f"Let --repair delete more than {REPAIR_DELETE_LIMIT} files, or re-upload a "
            "store that lists as empty.",
        ),
    ] = False,
) -> None:
    """Compare the store with the published index: missing, unexpected, corrupt and partial
    files.

    With --repair, unexpected files that no current manifest links and partial files are
    deleted, and the plans with missing or corrupt files are rebuilt (only those files are
    uploaded again). --dry-run prints what --repair would do and changes nothing.

    Example: memora-cdn verify --repair --dry-run
    """
    from memora_cdn.store.verify import verify as check

    settings = _settings(ctx)
    with running(settings) as application:
        report = check(
            application.store,
            application.state,
            repair=repair or dry_run,
            dry_run=dry_run,
            yes=yes,
            concurrency=settings.upload_concurrency,
        )
        lines = [
            *(("missing", key) for key in report.missing),
            *(("unexpected", key) for key in report.unexpected),
            *(("corrupt", key) for key in report.corrupt),
            *(("partial", key) for key in report.partial),
        ]
        if report.marker_missing:
            lines.append(("missing", MARKER))
        if repair or dry_run:
            done = "would " if dry_run else ""
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
        identity = application.store.identity
        if not application.state.indexed_files(identity):
            out.print(
                f"Nothing was ever published to store {identity} (check the store setting;"
                " `memora-cdn sync --all` publishes every plan there).",
                markup=False,
                highlight=False,
            )
        if report.repaired and report.plans_to_rebuild:
            plans = list(report.plans_to_rebuild)
            application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
            _exit_for(_process(application, plans=plans))
        elif drift and not report.repaired:
            raise typer.Exit(1)


@command
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the queue, what is published per plan, and the latest syncs.

    Example: memora-cdn status --json
    """
    from rich.table import Table

    from memora_cdn.operations import sync_entry_json

    settings = _settings(ctx)
    with running(settings) as application:
        publications = application.state.publications(application.store.identity)
        recent = application.state.sync_log(limit=20)
        queue = application.queue.stats(application.now())
        backend = application.queue.name
        orphans, orphans_error = _orphans(application)
    if as_json:
        payload: dict[str, Any] = {
            "queue": {
                "backend": backend,
                "pending": queue.pending,
                "processing": queue.processing,
                "retrying": queue.retrying,
                "dead_letter": queue.dead_letter,
            },
            "plans": [
                {
                    "plan_id": p.plan_id,
                    "files": p.files,
                    "bytes": p.bytes,
                    "last_published_at": _iso(p.last_published_at),
                }
                for p in publications
            ],
            "recent_syncs": [sync_entry_json(e) for e in recent],
            "orphans": None
            if orphans is None
            else [
                {
                    "doctype": o.doctype.value,
                    "name": o.name,
                    "parent_doctype": o.parent_doctype.value,
                    "parent": o.parent,
                }
                for o in orphans
            ],
        }
        if orphans_error is not None:
            payload["orphans_error"] = orphans_error
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(
        f"Queue ({backend}): {queue.pending} pending, {queue.processing} processing, "
        f"{queue.retrying} retrying, {queue.dead_letter} dead letters",
        highlight=False,
    )
    table = Table("plan", "files", "bytes", "last published", show_edge=False)
    for p in publications:
        table.add_row(p.plan_id, str(p.files), f"{p.bytes:,}", _iso(p.last_published_at) or "")
    out.print(table if publications else "Nothing published yet.")
    if recent:
        log = Table(
            "id",
            "plan",
            "status",
            "trigger",
            "started",
            "up",
            "del",
            "warn",
            "error",
            show_edge=False,
        )
        for e in recent:
            log.add_row(
                str(e.id),
                e.plan_id,
                e.status.value,
                e.triggered_by.value,
                _iso(e.started_at) or "",
                str(e.counts.files_uploaded),
                str(e.counts.files_deleted),
                str(len(e.warnings)),
                e.error_message or "",
            )
        out.print(log)
    if orphans is None:
        out.print(f"Orphans: not checked ({orphans_error})", markup=False, highlight=False)
    elif orphans:
        out.print(f"Orphans (skipped in every plan): {len(orphans)}", highlight=False)
        for o in orphans:
            out.print(f"  {o.warning()}", markup=False, highlight=False)
    else:
        out.print("No orphans.")


def _orphans(application: App) -> tuple[list[Orphan] | None, str | None]:
    """The site-wide orphan list (SPEC §2), or why it could not be read."""
    from sqlalchemy.exc import DBAPIError

    try:
        return application.source.orphans(), None
    except MemoraCdnError as error:
        return None, str(error)
    except DBAPIError as error:  # the site database is down: the rest of status still shows
        return None, f"database error: {_first_line(error.orig)}"


def _iso(value: Any) -> str | None:
    from memora_cdn.operations import iso

    return iso(value)


# -- entry point ------------------------------------------------------------------------------


def main() -> None:
    app()
