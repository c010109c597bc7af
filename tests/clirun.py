"""Run the `memora-cdn` command line in-process, as a user would type it."""

from __future__ import annotations

from typer.testing import CliRunner

from memora_cdn.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `memora-cdn ARGS…`; an exception the command line
    did not turn into an exit status is raised again."""
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
