"""`with_app` and `with_settings`: a command is handed its app or settings, Typer still sees
its options, and `init`/`demo` prepare the state tables once."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
import typer
from typer.testing import CliRunner

from clirun import invoke
from memora_cdn.app import App
from memora_cdn.commands.context import guarded, with_app, with_settings
from memora_cdn.settings import Settings
from memora_cdn.state.repo import StateRepository

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """An empty working folder with the embedded defaults (./memora.db, ./cdn-out)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def probe_app(seen: list[object]) -> typer.Typer:
    """A command line of three commands that record what they are handed."""
    probe = typer.Typer(rich_markup_mode=None)

    @probe.callback()
    def root(ctx: typer.Context, config: Path | None = None) -> None:
        ctx.obj = config

    @with_app(create=True)
    def create(application: App) -> None:
        seen.append(application)

    @with_app
    def echo(
        application: App,
        word: Annotated[str, typer.Argument(help="A word.")],
        times: Annotated[int, typer.Option(help="How often.")] = 1,
    ) -> None:
        seen.append((application.settings.database_url, word * times))

    @with_settings
    def settings(settings: Settings) -> None:
        seen.append(settings)

    for command in (create, echo, settings):
        probe.command()(guarded(command))
    return probe


def test_with_app_hands_the_command_its_app_and_typer_its_arguments(workdir: Path) -> None:
    seen: list[object] = []
    probe = probe_app(seen)

    refused = runner.invoke(probe, ["echo", "hi"])
    assert refused.exit_code == 8  # no database yet, and plain `with_app` creates none
    assert not (workdir / "memora.db").exists()

    assert runner.invoke(probe, ["create"]).exit_code == 0
    assert isinstance(seen.pop(), App)
    assert (workdir / "memora.db").exists()

    result = runner.invoke(probe, ["echo", "hi", "--times", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [("sqlite:///memora.db", "hihihi")]


def test_with_settings_reads_the_root_config_file(workdir: Path) -> None:
    (workdir / "memora.toml").write_text('database_url = "sqlite:///other.db"\n')
    seen: list[object] = []
    result = runner.invoke(probe_app(seen), ["--config", "memora.toml", "settings"])
    assert result.exit_code == 0, result.output
    [settings] = seen
    assert isinstance(settings, Settings)
    assert settings.database_url == "sqlite:///other.db"


def test_typer_sees_ctx_in_place_of_the_app_and_evaluated_annotations() -> None:
    @with_app
    def command(application: App, count: Annotated[int, typer.Option()] = 2) -> None:
        """One line."""

    parameters = list(inspect.signature(command).parameters.values())
    assert [p.name for p in parameters] == ["ctx", "count"]
    assert parameters[0].annotation is typer.Context
    assert get_origin(parameters[1].annotation) is Annotated  # not the string "Annotated[…]"
    assert get_args(parameters[1].annotation)[0] is int
    assert parameters[1].default == 2
    assert (command.__name__, command.__doc__) == ("command", "One line.")


@pytest.mark.parametrize("command", [("init", "--content-schema"), ("demo",)], ids=" ".join)
def test_init_and_demo_prepare_the_state_tables_once(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    calls: list[str] = []
    create_schema = StateRepository.create_schema

    def counted(self: StateRepository, **kwargs: Any) -> int:
        calls.append(command[0])
        return create_schema(self, **kwargs)

    monkeypatch.setattr(StateRepository, "create_schema", counted)
    code, _, err = invoke(*command)
    assert code == 0, err
    assert calls == [command[0]]
