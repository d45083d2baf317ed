"""`launchbay run` has a fast path for plain local processes that skips the CLI
framework; it must understand the same flags as the full CLI, and hand anything
else to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from launchbay.cli import app as app_module
from launchbay.cli.main import _parse_simple_run


def _full_cli_process(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Process the typer CLI builds for ``argv`` (without running it)."""
    built: list[Any] = []

    def capture(infrastructure: Any, *, quiet: bool) -> Any:
        built.append((infrastructure, quiet))
        raise typer.Exit(0)

    monkeypatch.setattr(app_module, "_run_with_signals", capture)
    with pytest.raises(SystemExit):
        app_module.build_app()(args=argv, prog_name="launchbay")
    return built[0]


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
    simple = _parse_simple_run(argv)
    assert simple is not None
    process, quiet = _full_cli_process(argv, monkeypatch)
    assert simple.command == process.command
    assert simple.env == process.env
    assert simple.name == process.name
    assert (simple.working_dir and Path(simple.working_dir)) == (process.working_dir or None)
    assert simple.no_stream == (not process.stream_output)
    assert simple.quiet == quiet


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--docker", "busybox:1", "--", "true"],
        ["run", "--kubernetes", "busybox:1", "--", "true"],
        ["run", "--infra", "saved", "--", "true"],
        ["run", "--flow", "f.py:main"],
        ["run", "-e", "=x", "--", "true"],
        ["run", "-l", "novalue", "--", "true"],
        ["run", "--help"],
        ["run"],
        ["preview", "--", "true"],
        ["block", "ls"],
    ],
)
def test_anything_else_goes_to_the_full_cli(argv: list[str]) -> None:
    assert _parse_simple_run(argv) is None
