"""The entry point's error mapping: messages on stderr, and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchbay.cli import app as app_module
from launchbay.cli.main import main
from launchbay.exceptions import (
    BlockNotFound,
    InfrastructureError,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
    LaunchbayError,
)


class StoreUnavailable(LaunchbayError):
    """An error that says how the CLI exits, as InfrastructureError does."""

    exit_code = 125


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreUnavailable("the store is down"), 125),
        (InfrastructureError("no engine"), 125),
        (InfrastructureError("not executable", exit_code=126), 126),
        (InfrastructureNotFound("gone"), 1),
        (InfrastructureNotAvailable("elsewhere"), 1),
        (BlockNotFound("no such block"), 2),
        (LaunchbayError("bad"), 2),
        (ValueError("bad value"), 2),
    ],
)
def test_errors_exit_with_their_code_and_a_one_line_message(
    error: Exception, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail() -> None:
        raise error

    monkeypatch.setattr(app_module, "build_app", fail)
    assert main(["preview", "--", "true"]) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"launchbay: error: {error}\n"


def test_an_exit_code_that_is_not_a_number_is_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = InfrastructureNotFound("gone")
    error.exit_code = "soon"  # type: ignore[attr-defined]

    def fail() -> None:
        raise error

    monkeypatch.setattr(app_module, "build_app", fail)
    assert main(["preview", "--", "true"]) == 1


def test_the_program_leaves_after_a_fast_run_with_everything_written(tmp_path: Path) -> None:
    """``entry`` skips the interpreter's teardown after a fast-path run: the
    exit code, launchbay's own lines, the run's output and its record are all
    there, through pipes (block-buffered), as they are after a normal exit."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "LAUNCHBAY_HOME": str(tmp_path), "LAUNCHBAY_RECORD_RUNS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "launchbay.cli",
            "run",
            "--name",
            "quick",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 3
    assert done.stdout == "out\n"
    lines = done.stderr.splitlines()  # the child's line and ours, in either order
    assert "err" in lines and lines[-1] == "launchbay: Process 'quick' exited with status code: 3"
    listed = subprocess.run(
        [sys.executable, "-m", "launchbay.cli", "ps", "-a", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    (record,) = [r for r in json.loads(listed.stdout) if r["name"] == "quick"]
    assert record["status"] == "exited" and record["status_code"] == 3
    # A full-CLI command still exits through the interpreter's own end.
    shown = subprocess.run(
        [sys.executable, "-m", "launchbay.cli", "--help"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0 and "run" in shown.stdout
