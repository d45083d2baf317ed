"""The recorder the run paths call: on and off, a real run recorded from its
start to its end, and a store that cannot be written does not stop a run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import anyio
import pytest

from launchbay import Process
from launchbay._internal.exits import ExitReason
from launchbay._internal.records import recorder, supervisors
from launchbay._internal.records.model import RunNameInUse, RunStatus
from launchbay._internal.records.store import open_record_store
from launchbay.exceptions import InfrastructureError


@pytest.mark.parametrize(
    ("value", "cli", "expected"),
    [
        (None, True, True),
        (None, False, False),
        ("1", False, True),
        ("TRUE", False, True),
        ("yes", False, True),
        ("0", True, False),
        ("false", True, False),
        ("No", True, False),
        ("maybe", True, False),
    ],
)
def test_recording_is_on_for_the_cli_and_off_for_the_api_unless_set(
    value: str | None, cli: bool, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is not None:
        monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", value)
    assert recorder.recording_enabled(cli) is expected


def test_the_setting_name_matches_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("launchbay_record_runs", "1")
    assert recorder.recording_enabled(False) is True


def test_off_means_no_record_and_no_store(launchbay_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "0")
    assert recorder.begin("process", command=["true"], cli=True) is None
    assert not launchbay_home.exists()


def test_a_run_is_recorded_at_its_start_and_its_end(launchbay_home: Path) -> None:
    recording = recorder.begin("process", command=["echo", "hi"], name="one", labels={"a": "b"}, cli=True)
    assert recording is not None
    running = open_record_store().get(recording.run_id)
    assert running is not None and running.status is RunStatus.RUNNING
    assert running.supervisor == supervisors.current()  # this process watches it
    recording.started("host:1234")
    recording.end(3, ExitReason.EXITED, None)
    ended = open_record_store().get(recording.run_id)
    assert ended is not None
    assert (ended.infrastructure_pid, ended.status, ended.status_code) == ("host:1234", RunStatus.EXITED, 3)
    assert ended.name == "one" and dict(ended.labels) == {"a": "b"}


def test_a_name_in_use_refuses_the_run_before_it_starts(launchbay_home: Path) -> None:
    first = recorder.begin("process", command=["true"], name="same", cli=True)
    assert first is not None
    with pytest.raises(RunNameInUse):
        recorder.begin("process", command=["true"], name="same", cli=True)


def test_a_store_that_cannot_be_written_leaves_the_run_unrecorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("LAUNCHBAY_HOME", str(not_a_directory))
    with caplog.at_level(logging.WARNING, logger="launchbay.runs"):
        assert recorder.begin("process", command=["true"], cli=True) is None
    assert "not recorded" in caplog.text


def _real_run(command: list[str]) -> tuple[str, tuple[str, object]]:
    async def main() -> tuple[str, tuple[str, object]]:
        process = Process(command=command)
        recording = recorder.begin("process", command=command, cli=True)
        async with anyio.create_task_group() as group:
            result: list[object] = []

            async def run(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                result.append(await recorder.recorded(recording, process.arun, task_status))

            pid = await group.start(run)
        assert recording is not None
        return recording.run_id, (pid, result[0])

    return anyio.run(main)


def test_recorded_keeps_a_real_run_s_record(launchbay_home: Path) -> None:
    run_id, (pid, _) = _real_run([sys.executable, "-c", "raise SystemExit(5)"])
    got = open_record_store().get(run_id)
    assert got is not None
    assert got.infrastructure_pid == pid
    assert (got.status, got.status_code, got.exit_reason) == (RunStatus.EXITED, 5, ExitReason.EXITED)


def test_a_run_that_never_starts_leaves_no_record(launchbay_home: Path) -> None:
    command = ["/no/such/command"]
    recording = recorder.begin("process", command=command, cli=True)

    async def main() -> None:
        await recorder.recorded(recording, Process(command=command).arun, anyio.TASK_STATUS_IGNORED)

    with pytest.raises(InfrastructureError, match="Command not found"):
        anyio.run(main)
    assert open_record_store().records() == []


def test_a_cancelled_run_records_its_cancellation(launchbay_home: Path) -> None:
    async def main() -> str:
        command = ["sleep", "30"]
        recording = recorder.begin("process", command=command, cli=True)
        assert recording is not None
        async with anyio.create_task_group() as group:

            async def run(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                await recorder.recorded(recording, Process(command=command).arun, task_status)

            await group.start(run)
            group.cancel_scope.cancel()
        return recording.run_id

    run_id = anyio.run(main)
    got = open_record_store().get(run_id)
    assert got is not None and got.status is RunStatus.EXITED
    assert got.exit_reason is ExitReason.CANCELLED


def test_a_run_its_watch_gave_up_on_is_handed_to_its_engine(launchbay_home: Path) -> None:
    # A Kubernetes job or pod watch timeout: the job runs on in the cluster, so
    # its record stays running (for attach, wait, kill), held by the engine.
    from launchbay.infrastructure.kubernetes import KubernetesJobResult

    pid = "uid:ns:launchbay-job-x"
    recording = recorder.begin("kubernetes-job", command=["sleep", "60"], cli=True)
    assert recording is not None

    async def run(task_status: anyio.abc.TaskStatus[str]) -> KubernetesJobResult:
        task_status.started(pid)
        return KubernetesJobResult(
            identifier=pid,
            status_code=-1,
            reason="the job did not complete within 1 s",
            exit_reason=ExitReason.TIMED_OUT,
            still_running=True,
        )

    async def main() -> None:
        await recorder.recorded(recording, run, anyio.TASK_STATUS_IGNORED)

    anyio.run(main)
    got = open_record_store().get(recording.run_id)
    assert got is not None
    assert (got.status, got.infrastructure_pid, got.supervisor) == (RunStatus.RUNNING, pid, None)
