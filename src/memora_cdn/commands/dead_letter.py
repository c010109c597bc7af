"""`memora-cdn dead-letter list|retry|clear`: the plans that failed max_retries times."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from memora_cdn.commands.context import fail, out, running, with_app, with_settings

if TYPE_CHECKING:
    from memora_cdn.app import App
    from memora_cdn.settings import Settings


@with_app
def dead_letter_list(application: App) -> None:
    """List dead-lettered plans with their last error.

    Example: memora-cdn dead-letter list
    """
    from memora_cdn.commands.output import print_dead_letters

    print_dead_letters(application.queue.dead_letters())


@with_app
def dead_letter_retry(
    application: App, plan: Annotated[str, typer.Argument(help="The plan to retry.")]
) -> None:
    """Put a dead-lettered plan back in the queue with a fresh retry budget.

    Example: memora-cdn dead-letter retry PLAN-G10-SCI
    """
    from memora_cdn.operations import retry_dead_letter

    if not retry_dead_letter(application, plan):
        raise typer.BadParameter(f"{plan!r} is not in the dead letter", param_hint="PLAN")
    out.print(f"{plan} queued again; `memora-cdn sync` or the worker will build it.")


@with_settings
def dead_letter_clear(
    settings: Settings,
    plan: Annotated[str | None, typer.Argument(help="The plan to forget.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Forget every dead letter.")] = False,
) -> None:
    """Forget a dead-lettered plan, or with --all every one of them.

    Example: memora-cdn dead-letter clear PLAN-G10-SCI
    """
    if (plan is None) == (not every):  # checked before any database is opened
        fail("name one plan to clear, or --all to clear every dead letter (not both)", 2)
    with running(settings) as application:
        cleared = application.queue.clear_dead(plan)
    out.print(f"Cleared {cleared} dead letter{'s' if cleared != 1 else ''}.")
