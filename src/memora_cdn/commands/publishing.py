"""The commands that publish: `init`, `sync`, `rebuild` and `demo`, and the one way they
build what is queued (`process`)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from memora_cdn.commands.context import out, running, with_app, with_settings
from memora_cdn.core.model import Trigger
from memora_cdn.errors import PlanNotFoundError

if TYPE_CHECKING:
    from memora_cdn.app import App
    from memora_cdn.settings import Settings
    from memora_cdn.sync.processor import BatchReport


@with_app(create=True)
def init(
    application: App,
    content_schema: Annotated[
        bool, typer.Option("--content-schema", help="Also create the Frappe-layout content tables.")
    ] = False,
) -> None:
    """Create memora-cdn's state tables (and, for standalone use, the content tables).

    Example: memora-cdn init --content-schema
    """
    from memora_cdn.source.schema import content_metadata

    if content_schema:
        content_metadata().create_all(application.source.engine)
    what = "state and content tables" if content_schema else "state tables"
    out.print(f"Created the {what} (existing tables were left as they were).")


@with_app
def sync(
    application: App,
    all_plans: Annotated[bool, typer.Option("--all", help="Queue every plan first.")] = False,
) -> None:
    """Process the queue now; with --all, queue every plan first (a full rebuild).

    Example: memora-cdn sync --all
    """
    if all_plans:
        application.intake.queue_plans(every_plan(application), trigger=Trigger.MANUAL)
    else:
        queue = application.queue.stats(application.now())
        if queue.pending == 0:
            out.print("Nothing pending.")
            if queue.processing:
                held = f"{queue.processing} plan{'s are' if queue.processing != 1 else ' is'}"
                out.print(f"skipped: {held} being built by another worker.")
            return
    exit_for(process(application))


@with_app
def rebuild(
    application: App,
    plans: Annotated[list[str], typer.Argument(help="Plan names.", show_default=False)],
) -> None:
    """Rebuild the given plans now (a missing or unpublished plan has its folder removed).

    A plan another worker is building right now is queued to be built again after it.

    Example: memora-cdn rebuild PLAN-G10-SCI PLAN-G12-SCI
    """
    unknown = sorted(set(plans) - set(every_plan(application)))
    if unknown:
        raise PlanNotFoundError(unknown)
    application.intake.queue_plans(plans, trigger=Trigger.MANUAL)
    report = process(application, plans=plans)
    built = {o.plan for o in report.outcomes}
    for plan in plans:
        if plan not in built:
            out.print(
                f"skipped: {plan} is being built by another worker; "
                "queued to be built again after it.",
                markup=False,
                highlight=False,
            )
    exit_for(report)


@with_settings
def demo(
    settings: Settings,
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
    from memora_cdn.commands.serving import serve_announced
    from memora_cdn.database import make_engine
    from memora_cdn.demo import refuse_foreign_content, seed
    from memora_cdn.http.server import check_host

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
        application.intake.queue_plans(every_plan(application), trigger=Trigger.MANUAL)
        report = process(application)
        out.print(f"Store: {application.store.describe()}")
        exit_for(report)
        if serve:
            serve_announced(application, host, port)


def process(
    application: App, *, plans: Collection[str] | None = None, stop: threading.Event | None = None
) -> BatchReport:
    """Build what is due now (Manual trigger) with a progress bar; failures are retried later
    by the worker, and make the command exit non-zero (`exit_for`)."""
    from memora_cdn.app import BUILD_PROCESSES
    from memora_cdn.commands.output import print_results, publishing_progress

    total = application.queue.stats(application.now()).pending if plans is None else len(plans)
    processor = application.processor(stop, processes=BUILD_PROCESSES)
    with _sigterm_interrupts(), publishing_progress(total) as advance:
        report = processor.run(Trigger.MANUAL, plans=plans, on_outcome=advance)
    succeeded = [o.result for o in report.succeeded if o.result is not None]
    if succeeded or not report.failed:
        print_results(succeeded)
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


def every_plan(application: App) -> list[str]:
    """`operations.every_plan`, imported when a command runs."""
    from memora_cdn.operations import every_plan as plans

    return plans(application)


def exit_for(report: BatchReport) -> None:
    """A batch with failures exits with its first failure's code (errors.py)."""
    if report.failed:
        raise typer.Exit(report.failed[0].exit_code or 1)
