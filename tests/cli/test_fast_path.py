"""`launchbay run` has a fast path for plain local processes that skips the CLI
framework; it must understand the same flags as the full CLI, and hand anything
else to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from launchbay.cli import app as app_module
from launchbay.cli.fast_path import parse_fast, simple_run
from launchbay.cli.flags import FLAGS, REPEATED, RUN, SWITCH, Flag, ParsedFlags, PathValue, flags_of


def _full_cli_process(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Process the typer CLI builds for ``argv`` (without running it)."""
    built: list[Any] = []

    def capture(infrastructure: Any, *, quiet: bool, grace_seconds: float, **_: Any) -> Any:
        built.append((infrastructure, quiet))
        raise typer.Exit(0)

    monkeypatch.setattr(app_module, "run_infrastructure", capture)
    with pytest.raises(SystemExit):
        app_module.build_app()(args=argv, prog_name="launchbay")
    return built[0]


def _full_cli_flags(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[ParsedFlags, list[str]]:
    """The flags and command the typer CLI parses from a ``run`` ``argv``."""
    parsed: list[tuple[ParsedFlags, list[str]]] = []

    def capture(options: ParsedFlags, command: list[str] | None, **_: Any) -> Any:
        parsed.append((options, list(command or [])))
        raise typer.Exit(0)

    monkeypatch.setattr(app_module, "build_infrastructure", capture)
    with pytest.raises(SystemExit) as exited:
        app_module.build_app()(args=argv, prog_name="launchbay")
    assert exited.value.code == 0, argv
    return parsed[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--", "echo", "hi"],
        ["run", "echo", "hi"],
        ["run", "-q", "-e", "A=1", "-e", "B", "--env=C=x=y", "--", "sh", "-c", "echo $A"],
        ["run", "--name", "nightly", "--working-dir", "/tmp", "--no-stream", "--", "true"],
        ["run", "--process", "-l", "team=data", "-v", "--", "true", "--flag-of-the-command"],
    ],
)
def test_fast_path_reads_flags_like_the_full_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    simple = simple_run(argv)
    assert simple is not None
    process, quiet = _full_cli_process(argv, monkeypatch)
    assert simple.command == process.command
    assert simple.env == process.env
    assert simple.flags.name == process.name
    assert (simple.flags.working_dir and Path(simple.flags.working_dir)) == (process.working_dir or None)
    assert simple.flags.no_stream == (not process.stream_output)
    assert simple.flags.quiet == quiet
    fast = parse_fast(argv)
    assert fast is not None
    flags, command = _full_cli_flags(argv, monkeypatch)
    assert (_alike(fast[0]), fast[1]) == (_alike(flags), command)


def _sample(flag: Flag) -> tuple[list[str], object]:
    """Values to give ``flag`` on a command line, and the value they parse to
    (a path as text: see ``_alike``)."""
    if flag.form == SWITCH:
        return [], True
    text = {str: "some=value", PathValue: "/tmp/some dir", int: "7", float: "2.5"}[flag.value_type]
    if flag.form == REPEATED:
        return [text, "other=value"], [flag.parse(text), flag.parse("other=value")]
    return [text], flag.parse(text)


def _alike(flags: ParsedFlags) -> dict[str, object]:
    """The parsed flags, a path as text: typer gives a ``Path``, the fast path
    the text (which the run resolves the same way)."""
    return {key: os.fspath(value) if isinstance(value, Path) else value for key, value in vars(flags).items()}


def _spelled(flag: Flag) -> list[tuple[str, list[str], object]]:
    """Every way to give ``flag``: (spelling, arguments, parsed value)."""
    texts, value = _sample(flag)
    ways = []
    for spelling in flag.spellings:
        if flag.form == SWITCH:
            ways.append((spelling, [spelling], value))
            continue
        ways.append((spelling, [arg for text in texts for arg in (spelling, text)], value))
        if spelling.startswith("--"):
            ways.append((f"{spelling}=", [f"{spelling}={text}" for text in texts], value))
    return ways


_RUN_FLAGS = [
    pytest.param(flag, arguments, value, id=way)
    for flag in flags_of(RUN)
    for way, arguments, value in _spelled(flag)
]


@pytest.mark.parametrize(("flag", "arguments", "value"), _RUN_FLAGS)
def test_every_flag_of_the_table_parses_alike_in_both_parsers(
    flag: Flag, arguments: list[str], value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["run", *arguments, "--", "true", "-x"]
    expected = _alike(ParsedFlags(**{flag.attribute: value}))
    flags, command = _full_cli_flags(argv, monkeypatch)
    assert (_alike(flags), command) == (expected, ["true", "-x"])
    fast = parse_fast(argv)
    if flag.fast:
        assert fast is not None
        assert (_alike(fast[0]), fast[1]) == (expected, ["true", "-x"])
    else:
        assert fast is None  # the full CLI handles it


def test_all_fast_flags_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_flags = [flag for flag in FLAGS if flag.fast]
    arguments = [arg for flag in fast_flags for arg in _spelled(flag)[0][1]]
    argv = ["run", *arguments, "--", "true"]
    fast = parse_fast(argv)
    assert fast is not None
    flags, command = _full_cli_flags(argv, monkeypatch)
    assert (_alike(fast[0]), fast[1]) == (_alike(flags), command)
    assert all(_alike(flags)[flag.attribute] == _sample(flag)[1] for flag in fast_flags)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--docker", "busybox:1", "--", "true"],
        ["run", "--kubernetes", "busybox:1", "--", "true"],
        ["run", "--infra", "saved", "--", "true"],
        ["run", "--flow", "f.py:main"],
        ["run", "-e", "=x", "--", "true"],
        ["run", "-l", "novalue", "--", "true"],
        ["run", "-e", "-x", "--", "true"],
        ["run", "-eA=1", "--", "true"],
        ["run", "--help"],
        ["run"],
        ["run", "-q", "--"],
        ["preview", "--", "true"],
        ["block", "ls"],
    ],
)
def test_anything_else_goes_to_the_full_cli(argv: list[str]) -> None:
    assert simple_run(argv) is None


def test_the_fast_path_loads_no_framework() -> None:
    code = (
        "import sys\n"
        "from launchbay.cli.main import main\n"
        "status = main(['run', '-q', '-e', 'A=1', '--name', 'n', '--', 'true'])\n"
        "heavy = [m for m in ('typer', 'click', 'rich', 'pydantic', 'anyio', 'yaml') if m in sys.modules]\n"
        # Nor what costs a start milliseconds for nothing (named tuples, paths as text).
        "heavy += [m for m in ('dataclasses', 'inspect', 'pathlib', 'urllib.parse') if m in sys.modules]\n"
        "print(status, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 []", done.stderr
