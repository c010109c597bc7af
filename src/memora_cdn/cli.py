"""The `memora-cdn` command line (SPEC §8): one Typer app over the commands in
`memora_cdn.commands`, each handed its settings or app by `commands.context`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from memora_cdn.commands import dead_letter, inspection, publishing, serving
from memora_cdn.commands.context import err, guarded, out, running, with_app, with_settings
from memora_cdn.core.events import Action

if TYPE_CHECKING:  # the modules behind the commands are imported by the commands that run
    from memora_cdn.app import App
    from memora_cdn.settings import Settings
    from memora_cdn.sync.processor import BatchReport

app = typer.Typer(
    name="memora-cdn",
    help="Compile a Memora learning catalogue into per-plan static JSON on a CDN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
dead_letter_app = typer.Typer(
    help="Plans that failed max_retries times: list, retry or clear them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
log = logging.getLogger("memora_cdn")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (MEMORA_CDN_* variables override it).",
        show_default=False,
    ),
]


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


# -- change tracking ---------------------------------------------------------------------------


@with_app
def notify(
    application: App,
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
    result = application.intake.notify(doctype, name, action, old_name)
    if not result.plans:
        out.print("No published plan shows that document: nothing queued.")
        return
    waiting = sorted(result.plans - set(result.scheduled))
    out.print(f"Queued: {', '.join(result.scheduled) or '-'}", markup=False, highlight=False)
    if waiting:
        out.print(f"Already queued: {', '.join(waiting)}", markup=False, highlight=False)


@with_app
def scan(application: App) -> None:
    """Poll the source for changed and deleted documents and queue the plans they affect.

    Example: memora-cdn scan && memora-cdn sync
    """
    queued = application.scan()
    out.print(
        f"{queued.events} changes found; {len(queued.plans)} plans affected, "
        f"{len(queued.scheduled)} newly queued.",
        highlight=False,
    )


@with_settings
def worker(settings: Settings) -> None:
    """Run the scheduler: scan, batch every interval or at the threshold, retry failures.

    Stops cleanly on SIGTERM or Ctrl-C, after the plan in hand.

    Example: MEMORA_CDN_BATCH_INTERVAL_MINUTES=1 memora-cdn worker
    """
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


# -- the command table --------------------------------------------------------------------------

COMMANDS = (
    publishing.init,
    publishing.sync,
    publishing.rebuild,
    publishing.demo,
    notify,
    scan,
    worker,
    serving.serve,
    inspection.validate,
    inspection.verify,
    inspection.status,
)
"""The top-level commands, in the order `--help` lists them."""

DEAD_LETTER_COMMANDS = {
    "list": dead_letter.dead_letter_list,
    "retry": dead_letter.dead_letter_retry,
    "clear": dead_letter.dead_letter_clear,
}

for _command in COMMANDS:
    app.command()(guarded(_command))
for _name, _command in DEAD_LETTER_COMMANDS.items():
    dead_letter_app.command(_name)(guarded(_command))
app.add_typer(dead_letter_app, name="dead-letter")


def main() -> None:
    """Run the command line (the `memora-cdn` script, `python -m memora_cdn`)."""
    app()
