"""The typer options generated from the flag table: every command that takes the
table's flags accepts each of them, in every spelling, with the same value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from launchbay.cli import app as app_module
from launchbay.cli import blocks as blocks_module
from launchbay.cli.flags import (
    PREVIEW,
    REPEATED,
    SAVE,
    SWITCH,
    Flag,
    FlagError,
    ParsedFlags,
    PathValue,
    flags_of,
)
from launchbay.cli.parameters import with_flags


def _arguments(flag: Flag, spelling: str) -> tuple[list[str], object]:
    if flag.form == SWITCH:
        return [spelling], True
    text = {str: "some=value", PathValue: "/tmp/some dir", int: "7", float: "2.5"}[flag.value_type]
    typed = Path if flag.value_type is PathValue else flag.value_type  # typer reads a path as a Path
    if flag.form == REPEATED:
        return [spelling, text, spelling, text], [typed(text)] * 2
    return [spelling, text], typed(text)


def _parsed(module: Any, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[ParsedFlags, list[str]]:
    parsed: list[tuple[ParsedFlags, list[str]]] = []

    def capture(options: ParsedFlags, command: list[str] | None, **_: Any) -> Any:
        parsed.append((options, list(command or [])))
        raise typer.Exit(0)

    monkeypatch.setattr(module, "build_infrastructure", capture)
    with pytest.raises(SystemExit) as exited:
        app_module.build_app()(args=argv, prog_name="launchbay")
    assert exited.value.code == 0, argv
    return parsed[0]


_COMMANDS = {PREVIEW: (app_module, ["preview"]), SAVE: (blocks_module, ["block", "save", "process", "p"])}


@pytest.mark.parametrize(
    ("command", "flag", "spelling"),
    [
        pytest.param(command, flag, spelling, id=f"{command}:{spelling}")
        for command in (PREVIEW, SAVE)
        for flag in flags_of(command)
        for spelling in flag.spellings
    ],
)
def test_every_flag_of_the_table_is_an_option(
    command: str, flag: Flag, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, words = _COMMANDS[command]
    arguments, value = _arguments(flag, spelling)
    options, parsed_command = _parsed(module, [*words, *arguments, "--", "true"], monkeypatch)
    assert vars(options) == vars(ParsedFlags(**{flag.attribute: value}))
    assert parsed_command == ["true"]


def test_run_only_flags_are_not_options_of_preview() -> None:
    assert {flag.attribute for flag in flags_of(PREVIEW)} == {flag.attribute for flag in flags_of(SAVE)}
    assert "quiet" not in {flag.attribute for flag in flags_of(PREVIEW)}
    runner_result = CliRunner().invoke(app_module.build_app(), ["preview", "-q", "--", "true"])
    assert runner_result.exit_code == 2 and "No such option" in runner_result.output


def test_a_flag_error_is_a_usage_error() -> None:
    app = typer.Typer()

    @app.command()
    @with_flags(PREVIEW)
    def check(*, options: ParsedFlags) -> None:
        raise FlagError(f"bad {options.name}", param_hint="--name")

    @app.command()
    def other() -> None:  # a second command, so that typer keeps command names
        pass

    result = CliRunner().invoke(app, ["check", "--name", "x"])
    assert result.exit_code == 2
    assert "Invalid value for --name: bad x" in result.output
