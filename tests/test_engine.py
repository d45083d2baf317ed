"""``python -m launchbay.engine`` as a real subprocess, and through Process flow runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from launchbay import FlowRun, Process

FLOWS = """
import asyncio

def add(a, b=1):
    return a + b

async def greet(name):
    await asyncio.sleep(0)
    return f"hello {name}"

def boom():
    raise RuntimeError("flow failed on purpose")
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(FLOWS)
    return path


def _engine(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launchbay.engine"],
        env={**os.environ, "LAUNCHBAY__FLOW_RUN_ID": "abc", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runs_a_file_entrypoint_with_json_parameters(flows_file: Path) -> None:
    done = _engine(
        {"LAUNCHBAY__FLOW_ENTRYPOINT": f"{flows_file}:add", "LAUNCHBAY__FLOW_PARAMETERS": '{"a": 40, "b": 2}'}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


def test_runs_an_async_function(flows_file: Path) -> None:
    done = _engine(
        {"LAUNCHBAY__FLOW_ENTRYPOINT": f"{flows_file}:greet", "LAUNCHBAY__FLOW_PARAMETERS": '{"name": "bay"}'}
    )
    assert done.returncode == 0 and done.stdout.strip() == "hello bay"


def test_runs_a_module_entrypoint() -> None:
    done = _engine(
        {"LAUNCHBAY__FLOW_ENTRYPOINT": "json:dumps", "LAUNCHBAY__FLOW_PARAMETERS": '{"obj": [1, 2]}'}
    )
    assert done.returncode == 0 and done.stdout.strip() == "[1, 2]"


def test_an_exception_exits_1_with_its_traceback(flows_file: Path) -> None:
    done = _engine({"LAUNCHBAY__FLOW_ENTRYPOINT": f"{flows_file}:boom"})
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "flow failed on purpose" in done.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "LAUNCHBAY__FLOW_ENTRYPOINT is not set"),
        ({"LAUNCHBAY__FLOW_ENTRYPOINT": "nocolon"}, "Invalid entrypoint"),
        ({"LAUNCHBAY__FLOW_ENTRYPOINT": "/nowhere/x.py:f"}, "does not exist"),
        ({"LAUNCHBAY__FLOW_ENTRYPOINT": "json:nothing"}, "has no function 'nothing'"),
        (
            {"LAUNCHBAY__FLOW_ENTRYPOINT": "json:dumps", "LAUNCHBAY__FLOW_PARAMETERS": "[1]"},
            "must be a JSON object",
        ),
    ],
)
def test_bad_environment_is_a_clear_error(env: dict[str, str], message: str) -> None:
    done = _engine(env)
    assert done.returncode == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_flow_run_through_process(flows_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    flow_run = FlowRun(entrypoint=f"{flows_file}:add", parameters={"a": 1, "b": 2})
    result = Process().prepare_for_flow_run(flow_run).run()
    assert result.status_code == 0
    assert capfd.readouterr().out.strip() == "3"
