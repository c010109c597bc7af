"""The `memora-cdn` command line (SPEC §8).

Every command reads the settings, builds the adapters through the composition root, and
reports failures as one line on stderr with a non-zero exit status (see `errors.py`).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from memora_cdn.app import App, running
from memora_cdn.errors import MemoraCdnError, UnavailableError
from memora_cdn.publish import PublishResult
from memora_cdn.settings import Settings, load_settings

app = typer.Typer(
    name="memora-cdn",
    help="Compile a Memora learning catalogue into per-plan static JSON on a CDN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
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


def command(function: F) -> F:
    """Register a command whose errors end as one line on stderr and an exit status."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except MemoraCdnError as error:
            _fail(str(error), error.exit_code)
        except OperationalError as error:
            unavailable = UnavailableError("the database", _first_line(error.orig))
            _fail(str(unavailable), unavailable.exit_code)
        except DBAPIError as error:
            _fail(f"database error: {_first_line(error.orig)}", 1)

    app.command()(guarded)
    return function


def _first_line(error: object) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


@app.callback()
def _root(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config


def _settings(ctx: typer.Context) -> Settings:
    config: Path | None = ctx.find_root().obj
    return load_settings(config)


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
    with running(settings) as application:
        application.state.create_schema()
        if content_schema:
            content_metadata().create_all(application.source.engine)
    what = "state and content tables" if content_schema else "state tables"
    out.print(f"Created the {what} (existing tables were left as they were).")


# -- publishing -----------------------------------------------------------------------------


def _publish_all(application: App, plans: Sequence[str]) -> list[PublishResult]:
    """Publish plans one after another with a progress bar; a failed plan does not stop the rest."""
    results: list[PublishResult] = []
    failures: list[str] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("Publishing", total=len(plans))
        for plan in plans:
            progress.update(task, description=f"Publishing {plan}")
            try:
                results.append(application.publisher.publish(plan))
            except MemoraCdnError as error:
                failures.append(str(error))
                err.print(f"[red]failed[/red] {plan}: {error}", markup=True, highlight=False)
            progress.advance(task)
    _print_results(results)
    if failures:
        raise typer.Exit(1)
    return results


def _print_results(results: Iterable[PublishResult]) -> None:
    results = list(results)
    table = Table(title=None, show_edge=False)
    widest = max((len(r.plan) for r in results), default=4)
    table.add_column("plan", no_wrap=True, min_width=widest)
    for column in ("files", "bytes", "lessons", "uploaded", "deleted", "warnings"):
        table.add_column(column, justify="right")
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
    """Process pending plans now; with --all, rebuild every plan in the source.

    Example: memora-cdn sync --all
    """
    settings = _settings(ctx)
    with running(settings) as application:
        if not all_plans:
            out.print("No change queue in this build yet: nothing pending. Use --all to rebuild.")
            return
        plans = sorted(set(application.source.plan_names()) | _published_plans(application))
        _publish_all(application, plans)


def _published_plans(application: App) -> set[str]:
    return {p.plan_id for p in application.state.publications()}


@command
def rebuild(
    ctx: typer.Context,
    plans: Annotated[list[str], typer.Argument(help="Plan names.", show_default=False)],
) -> None:
    """Rebuild the given plans now (a missing or unpublished plan has its folder removed).

    Example: memora-cdn rebuild "Grade 10 Scientific"
    """
    settings = _settings(ctx)
    with running(settings) as application:
        _publish_all(application, plans)


@command
def demo(ctx: typer.Context) -> None:
    """Seed a realistic demo catalogue into the embedded default and publish it.

    Example: memora-cdn demo
    """
    from memora_cdn.demo import seed

    settings = _settings(ctx)
    with running(settings) as application:
        application.state.create_schema()
        seeded = seed(application.source.engine)
        out.print(
            f"Demo catalogue: {seeded.total} rows added"
            if seeded.total
            else "Demo catalogue already seeded: no rows added."
        )
        plans = sorted(set(application.source.plan_names()) | _published_plans(application))
        _publish_all(application, plans)
        out.print(f"Store: {application.store.describe()}")


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
        err.print(f"{len(problems)} problems found under {directory}.")
        raise typer.Exit(1)
    files = sum(1 for path in directory.rglob("*.json") if path.is_file())
    out.print(f"All {files} files under {directory} are valid.")


@command
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what is published per plan and the latest syncs.

    Example: memora-cdn status --json
    """
    settings = _settings(ctx)
    with running(settings) as application:
        publications = application.state.publications()
        recent = application.state.sync_log(limit=20)
    if as_json:
        payload: dict[str, Any] = {
            "plans": [
                {
                    "plan_id": p.plan_id,
                    "files": p.files,
                    "bytes": p.bytes,
                    "last_published_at": _iso(p.last_published_at),
                }
                for p in publications
            ],
            "recent_syncs": [
                {
                    "id": e.id,
                    "plan_id": e.plan_id,
                    "status": e.status.value,
                    "triggered_by": e.triggered_by.value,
                    "started_at": _iso(e.started_at),
                    "completed_at": _iso(e.completed_at),
                    "files_uploaded": e.counts.files_uploaded,
                    "files_deleted": e.counts.files_deleted,
                    "files_unchanged": e.counts.files_unchanged,
                    "bytes_uploaded": e.counts.bytes_uploaded,
                    "error_message": e.error_message,
                    "warnings": list(e.warnings),
                }
                for e in recent
            ],
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
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


def _iso(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- entry point ------------------------------------------------------------------------------


def main() -> None:
    app()
