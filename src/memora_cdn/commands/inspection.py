"""The commands that look: `validate` a published tree, `verify` the store against the
index (and repair it), and `status`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from memora_cdn.commands.context import err, first_line, out, with_app
from memora_cdn.commands.publishing import exit_for, process
from memora_cdn.core.model import Orphan, Trigger
from memora_cdn.errors import MemoraCdnError
from memora_cdn.store.base import REPAIR_DELETE_LIMIT

if TYPE_CHECKING:
    from memora_cdn.app import App
    from memora_cdn.commands.output import StatusReport


def validate(
    directory: Annotated[Path, typer.Argument(help="Store root folder (holds plans/).")],
) -> None:
    """Validate every published file under DIR against its JSON Schema, and every link.

    Example: memora-cdn validate ./cdn-out
    """
    from memora_cdn.contracts.tree import validate_tree

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


@with_app
def verify(
    application: App,
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
    from memora_cdn.commands.output import print_verify
    from memora_cdn.store.verify import verify as check

    report = check(
        application.store,
        application.state,
        repair=repair or dry_run,
        dry_run=dry_run,
        yes=yes,
        concurrency=application.settings.upload_concurrency,
    )
    identity = application.store.identity
    never_published = None if application.state.indexed_files(identity) else identity
    print_verify(report, repairing=repair or dry_run, never_published=never_published)
    if report.repaired and report.plans_to_rebuild:
        plans = list(report.plans_to_rebuild)
        application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        exit_for(process(application, plans=plans))
    elif not report.ok and not report.repaired:
        raise typer.Exit(1)


@with_app
def status(
    application: App,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the queue, what is published per plan, and the latest syncs.

    Example: memora-cdn status --json
    """
    from memora_cdn.commands.output import print_status

    report = read_status(application)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        print_status(report)


def read_status(application: App) -> StatusReport:
    """What `status` shows, read from the state tables, the queue and the source."""
    from memora_cdn.commands.output import QueueSummary, StatusReport

    publications = application.state.publications(application.store.identity)
    recent = application.state.sync_log(limit=20)
    queue = application.queue.stats(application.now())
    orphans, orphans_error = _orphans(application)
    return StatusReport(
        queue=QueueSummary(
            backend=application.queue.name,
            pending=queue.pending,
            processing=queue.processing,
            retrying=queue.retrying,
            dead_letter=queue.dead_letter,
        ),
        plans=publications,
        recent_syncs=recent,
        orphans=orphans,
        orphans_error=orphans_error,
    )


def _orphans(application: App) -> tuple[list[Orphan] | None, str | None]:
    """The site-wide orphan list (SPEC §2), or why it could not be read."""
    from sqlalchemy.exc import DBAPIError

    try:
        return application.source.orphans(), None
    except MemoraCdnError as error:
        return None, str(error)
    except DBAPIError as error:  # the site database is down: the rest of status still shows
        return None, f"database error: {first_line(error.orig)}"
