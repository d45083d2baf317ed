"""CLI runs are recorded on both paths; API runs only with LAUNCHBAY_RECORD_RUNS."""

from __future__ import annotations

import json
import subprocess
import sys

LAUNCHBAY = [sys.executable, "-m", "launchbay.cli"]


def _ps() -> list[dict[str, object]]:
    done = subprocess.run([*LAUNCHBAY, "ps", "-a", "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_cli_runs_on_both_paths_are_recorded_with_their_end() -> None:
    subprocess.run([*LAUNCHBAY, "run", "-q", "--name", "fast", "-l", "k=v", "--", "sh", "-c", "exit 3"])
    full = "import sys; from launchbay.cli.app import build_app; build_app()(args=sys.argv[1:], prog_name='launchbay')"
    subprocess.run([sys.executable, "-c", full, "run", "-q", "--name", "full", "--", "true"])
    records = {record["name"]: record for record in _ps()}
    assert records["fast"]["status_code"] == 3 and records["fast"]["status"] == "exited"
    assert records["fast"]["labels"] == {"k": "v"}
    assert records["full"]["status_code"] == 0 and records["full"]["exit_reason"] == "exited"


def test_api_runs_are_recorded_only_when_asked(monkeypatch: object) -> None:
    code = "from launchbay import Process; Process(command=['true'], name='{}').run()"
    subprocess.run([sys.executable, "-c", code.format("quiet")], check=True)
    env = {**__import__("os").environ, "LAUNCHBAY_RECORD_RUNS": "1"}
    subprocess.run([sys.executable, "-c", code.format("asked")], check=True, env=env)
    names = {record["name"] for record in _ps()}
    assert "asked" in names and "quiet" not in names
