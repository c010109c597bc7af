"""What every command runs in: its settings and app from the Typer context (`with_app`,
`with_settings`, as rq's `pass_cli_config`), the two consoles, and failures as one line."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, overload

import typer
from rich.console import Console

from memora_cdn.errors import Interrupted, MemoraCdnError, UnavailableError

if TYPE_CHECKING:  # imported by the commands that run (`--help` needs none of it)
    from memora_cdn.app import App
    from memora_cdn.settings import Settings

P = ParamSpec("P")
Command = Callable[..., None]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int) -> None:
    """End the command with `error: MESSAGE` on stderr and exit status `code`."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def first_line(error: object) -> str:
    """The first line of an error's text (a driver's error can run to many)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def guarded(function: Callable[P, None]) -> Callable[P, None]:
    """The command with its errors ending as one line on stderr and an exit status."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except MemoraCdnError as error:
            fail(str(error), error.exit_code)
        except KeyboardInterrupt:
            fail(str(Interrupted()), Interrupted.exit_code)
        except Exception as error:
            from sqlalchemy.exc import DBAPIError, OperationalError

            if isinstance(error, OperationalError):
                unavailable = UnavailableError("the database", first_line(error.orig))
                fail(str(unavailable), unavailable.exit_code)
            elif isinstance(error, DBAPIError):
                fail(f"database error: {first_line(error.orig)}", 1)
            raise

    return run


def settings_of(ctx: typer.Context) -> Settings:
    """The settings: the root's `--config` file, then MEMORA_CDN_* variables over it."""
    from memora_cdn.settings import load_settings

    config: Path | None = ctx.find_root().obj
    return load_settings(config)


def running(settings: Settings, *, create: bool = False) -> contextlib.AbstractContextManager[App]:
    """`memora_cdn.app.running`, imported when a command runs."""
    from memora_cdn.app import running as app_running

    return app_running(settings, create=create)


def with_settings(function: Callable[Concatenate[Settings, P], None]) -> Command:
    """A command that is handed the settings as its first argument."""

    def run(ctx: typer.Context, *args: Any, **kwargs: Any) -> None:
        function(settings_of(ctx), *args, **kwargs)

    return _typer_command(run, function)


@overload
def with_app(function: Callable[Concatenate[App, P], None], /) -> Command: ...


@overload
def with_app(
    *, create: bool = False
) -> Callable[[Callable[Concatenate[App, P], None]], Command]: ...


def with_app(
    function: Callable[Concatenate[App, P], None] | None = None, /, *, create: bool = False
) -> Command | Callable[[Callable[Concatenate[App, P], None]], Command]:
    """A command that is handed the running application as its first argument (`create`:
    a missing SQLite file is created, as `init` and `demo` need)."""

    def decorate(function: Callable[Concatenate[App, P], None]) -> Command:
        def run(ctx: typer.Context, *args: Any, **kwargs: Any) -> None:
            with running(settings_of(ctx), create=create) as application:
                function(application, *args, **kwargs)

        return _typer_command(run, function)

    return decorate if function is None else decorate(function)


def _typer_command(run: Callable[..., None], function: Callable[..., None]) -> Command:
    """`run` named and documented as `function`, with the signature Typer reads: `ctx` in
    place of `function`'s first parameter, the other parameters' annotations evaluated (the
    first one's type is only imported for mypy, so Typer must not evaluate it)."""
    _, *rest = inspect.signature(function).parameters.values()
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    parameters = [context, *(p.replace(annotation=_evaluated(p, function)) for p in rest)]
    functools.update_wrapper(run, function)
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


def _evaluated(parameter: inspect.Parameter, function: Callable[..., None]) -> Any:
    """The annotation itself, not the string `from __future__ import annotations` makes of
    it: evaluated in `function`'s module, as `inspect.signature(eval_str=True)` does."""
    annotation = parameter.annotation
    if isinstance(annotation, str):
        return eval(annotation, function.__globals__)
    return annotation
