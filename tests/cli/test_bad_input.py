"""Bad input and broken surroundings get one clear line and the documented exit
code, never a traceback (issue: CLI, store and secrets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LAUNCHBAY = [sys.executable, "-m", "launchbay.cli"]
# Straight into the typer CLI (the full path), past the fast path.
FULL_CLI = [
    sys.executable,
    "-c",
    "import sys; from launchbay.cli.main import main; from launchbay.cli import main as m; "
    "m.simple_run = lambda argv: None; sys.exit(main(sys.argv[1:]))",
]


def _launchbay(
    *args: str, cwd: Path | None = None, stdin: str | None = None, **popen: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAUNCHBAY, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        **popen,  # type: ignore[call-overload]
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


@pytest.mark.parametrize("closed", ["1", "2"])
@pytest.mark.parametrize("path", ["fast", "full"])
def test_a_closed_stdout_or_stderr_keeps_the_exit_code(closed: str, path: str) -> None:
    import shlex

    entry = LAUNCHBAY if path == "fast" else FULL_CLI
    script = f'{shlex.join(entry)} run -- sh -c "exit 7" {closed}>&-; echo "rc=$?"'
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert "rc=7" in done.stdout, done
    assert "Traceback" not in done.stderr


def test_preview_without_a_command_is_a_usage_error() -> None:
    for args in (["preview"], ["preview", "--"], ["preview", "-e", "A=1"]):
        err = _one_clear_line(_launchbay(*args), 2)
        assert "command" in err.lower()


def test_an_empty_command_is_named_as_such() -> None:
    for entry in (LAUNCHBAY, FULL_CLI):
        done = subprocess.run([*entry, "run", "--", ""], capture_output=True, text=True)
        err = _one_clear_line(done, 2)
        assert "empty" in err and "Permission denied" not in err


def test_a_working_dir_that_is_a_file_is_blamed_not_the_command(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    err = _one_clear_line(_launchbay("run", "--working-dir", str(a_file), "--", "true"), 125)
    assert "Working directory" in err and "not a directory" in err


@pytest.mark.parametrize("grace", ["-1", "nan", "inf"])
def test_a_bad_grace_is_refused_before_anything_runs(grace: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = _launchbay("run", f"--grace={grace}", "--", "touch", str(marker))
    _one_clear_line(done, 2)
    assert not marker.exists()


def test_block_save_from_a_file_refuses_other_flags(tmp_path: Path) -> None:
    document = tmp_path / "p.json"
    document.write_text('{"command": ["true"]}')
    err = _one_clear_line(
        _launchbay("block", "save", "process", "p", "--file", str(document), "-e", "X=1", "--", "cmd"), 2
    )
    assert "--file" in err and "--env" in err
    assert _launchbay("block", "ls").stdout.strip() == ""  # nothing was saved
    assert _launchbay("block", "save", "process", "p", "--file", str(document)).returncode == 0


def test_an_empty_password_from_stdin_is_refused() -> None:
    done = _launchbay(
        "block",
        "save",
        "docker-registry",
        "r",
        "--username",
        "u",
        "--registry-url",
        "localhost:5000",
        "--password-stdin",
        stdin="",
    )
    err = _one_clear_line(done, 2)
    assert "empty password" in err


def test_a_relative_flow_entrypoint_resolves_against_the_callers_directory(tmp_path: Path) -> None:
    """The README's example, from the folder holding flows.py: the run starts in
    a fresh temporary directory, the entrypoint still names the caller's file."""
    (tmp_path / "flows.py").write_text("def add(a, b):\n    return a + b\n")
    done = _launchbay("run", "--flow", "flows.py:add", "--param", "a=1", "--param", "b=2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


def test_a_relative_home_resolves_against_the_callers_directory(tmp_path: Path) -> None:
    env = {**os.environ, "LAUNCHBAY_HOME": "relative-home"}
    done = _launchbay("run", "--", "sh", "-c", 'echo "$LAUNCHBAY_HOME"', cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "relative-home")
