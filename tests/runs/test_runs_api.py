"""``launchbay.runs`` on foreground process runs recorded as the CLI records
them: typed records, a wait from another process that returns the real exit
code, and ``lost`` once the supervisor was SIGKILLed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from tests._internal.records.fixtures import database_url, wait_until  # noqa: F401 - fixture
from tests.proctools import alive

from launchbay import runs
from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import RunRecord, RunStatus

# A foreground process run as the CLI's fast path records it: the record
# before the start, the pid once started, the end.
FOREGROUND = """
import logging, sys
from launchbay._internal.process import runner
from launchbay._internal.process.spec import build_spec
from launchbay._internal.records import recorder
command = sys.argv[2:]
recording = recorder.begin("process", command=command, name=sys.argv[1] or None, labels={"via": "test"}, cli=True)
print(recording.run_id, flush=True)
spec = build_spec(command, base_environment={}, env={}, working_dir=None, stream_output=False, name=None)
outcome = runner.run_blocking(spec, logger=logging.getLogger("test"), output_fds=None, on_started=recording.started)
recording.end(outcome.status_code, outcome.exit_reason, outcome.reason)
"""


def foreground(*command: str, name: str = "") -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, name, *command], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_a_foreground_run_is_waited_for_from_another_process_with_its_real_code(
    database_url: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    supervisor, run_id = foreground(
        "sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 9", name="fg"
    )
    wait_until(lambda: runs.get(run_id).infrastructure_pid is not None, what="the start")
    record = runs.get("fg")
    assert isinstance(record, RunRecord) and record.status is RunStatus.RUNNING and not record.detached
    assert [r.id for r in runs.list()] == [run_id]
    assert [r.id for r in runs.list(labels={"via": "test"})] == [run_id]
    assert runs.list(labels={"via": "other"}) == []

    async def open_gate() -> None:
        gate.touch()

    async def wait_then_open() -> RunRecord:
        async with anyio.create_task_group() as group:
            group.start_soon(open_gate)
            ended = await runs.wait_async(run_id)  # the async face
        return ended

    ended = anyio.run(wait_then_open)
    assert (ended.status, ended.status_code, ended.exit_reason) == (RunStatus.EXITED, 9, ExitReason.EXITED)
    assert supervisor.wait(timeout=60) == 0
    assert runs.list() == [] and [r.id for r in runs.list(all=True)] == [run_id]


def test_a_foreground_run_whose_supervisor_was_killed_is_lost(database_url: str) -> None:
    supervisor, run_id = foreground("sleep", "300")
    wait_until(lambda: runs.get(run_id).infrastructure_pid is not None, what="the start")
    leader = int((runs.get(run_id).infrastructure_pid or "").rsplit(":", 1)[1])
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    wait_until(lambda: not alive(leader), what="the tree's end (the watchdog)")
    record = runs.get(run_id)
    assert (record.status, record.exit_reason, record.status_code) == (RunStatus.LOST, ExitReason.LOST, None)
    assert runs.wait(run_id).status is RunStatus.LOST
    assert runs.list() == []  # a lost run is not running


def test_prune_removes_finished_records_only(database_url: str, tmp_path: Path) -> None:
    _, done_id = foreground("true")
    runs.wait(done_id)
    gate = tmp_path / "gate"
    supervisor, running_id = foreground("sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.02; done")
    wait_until(lambda: runs.get(running_id).infrastructure_pid is not None, what="the start")
    assert runs.prune(older_than=3600) == []  # not that old
    assert [r.id for r in runs.prune()] == [done_id]
    assert [r.id for r in runs.list(all=True)] == [running_id]
    gate.touch()
    supervisor.wait(timeout=60)


def test_an_unknown_reference_is_refused() -> None:
    with pytest.raises(runs.RunNotFound):
        runs.get("no-such-run")
    with pytest.raises(runs.RunNotFound):
        runs.wait("no-such-run")
