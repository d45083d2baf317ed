"""Every README example that can run here runs as written, from a fresh
directory (with the files the examples name: job.py, flows.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.S)
# Images that exist only on the user's side (never pulled here) and clusters
# this machine does not have: the lines naming them cannot run here.
ELSEWHERE = ("busybox:1.36", "app:1.2", 'context_name="dev"', "CLUSTER-UID", "3f2a…", "pip install")
# Ids of runs on the user's machine: here they name no run (exit 1, one line).
PLACEHOLDER_IDS = ("myhost:4242",)


def _blocks(kind: str) -> list[str]:
    return [body for language, body in BLOCK.findall(README.read_text()) if language == kind]


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "job.py").write_text("import os\nprint('job', os.environ.get('MODE', ''))\n")
    (tmp_path / "flows.py").write_text("def add(a, b):\n    return a + b\n\ndef main():\n    return 'main'\n")
    env = {
        **os.environ,
        "LAUNCHBAY_HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return tmp_path, env


def _commands(body: str) -> list[str]:
    lines = []
    for raw in body.splitlines():
        line = raw.split("  #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_every_cli_line_that_can_run_here_works(fresh: tuple[Path, dict[str, str]]) -> None:
    cwd, env = fresh
    ran = 0
    for body in _blocks("sh"):
        for line in _commands(body):
            if "launchbay" not in line or line.startswith("scripts/") or any(x in line for x in ELSEWHERE):
                continue
            line = line.split("&&", 1)[1].strip() if "&&" in line else line
            done = subprocess.run(
                ["sh", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
            )
            assert "Traceback" not in done.stderr, (line, done.stderr)
            expected = 1 if any(x in line for x in PLACEHOLDER_IDS) else 0
            assert done.returncode == expected, (line, done.returncode, done.stderr)
            ran += 1
    assert ran >= 12


@pytest.mark.parametrize(
    "index", range(len([b for b in _blocks("python") if not any(x in b for x in ELSEWHERE)]))
)
def test_every_python_example_that_can_run_here_works(index: int, fresh: tuple[Path, dict[str, str]]) -> None:
    cwd, env = fresh
    body = [b for b in _blocks("python") if not any(x in b for x in ELSEWHERE)][index]
    done = subprocess.run(
        [sys.executable, "-c", body], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (body, done.stderr)
    assert "Traceback" not in done.stderr
