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


def test_the_setting_name_matches_in_a_mixed_case_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Launchbay_Record_Runs", "yes")
    assert recorder.recording_enabled(False) is True
    monkeypatch.setenv("Launchbay_Record_Runs", "off")
    assert recorder.recording_enabled(True) is False


def _store_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Which thread makes each of the store's writes (observed, not changed)."""
    import threading

    from launchbay._internal.records import store

    seen: list[tuple[str, int]] = []
    for name in ("insert", "set_started", "set_end", "delete"):
        original = getattr(store.RecordStore, name)

        def observed(
            self: object, *args: object, _original: object = original, _name: str = name, **kwargs: object
        ) -> object:
            seen.append((_name, threading.get_ident()))
            return _original(self, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(store.RecordStore, name, observed)
    return seen


def test_an_api_run_on_an_event_loop_writes_its_record_off_the_loop(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "1")
    seen = _store_threads(monkeypatch)

    async def main() -> tuple[int, object]:
        result = await Process(
            command=[sys.executable, "-c", "raise SystemExit(4)"], stream_output=False
        ).arun()
        return threading.get_ident(), result

    loop_thread, result = anyio.run(main)
    assert [name for name, _ in seen] == ["insert", "set_started", "set_end"]  # in the run's order
    assert all(thread != loop_thread for _, thread in seen)
    (record,) = open_record_store().records()
    assert (record.infrastructure_pid, record.status, record.status_code) == (
        result.identifier,  # type: ignore[attr-defined]
        RunStatus.EXITED,
        4,
    )


def test_a_store_held_by_another_writer_does_not_stall_the_loop(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process holds SQLite's write lock: the run waits for its record
    # (it must exist before the run starts), and the loop goes on meanwhile.
    import sqlite3

    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "1")
    recorder.begin("process", command=["true"], cli=True)  # the store exists
    database = launchbay_home / "launchbay.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ticks = 0
    outcome: list[int] = []

    async def main() -> None:
        nonlocal ticks
        async with anyio.create_task_group() as group:

            async def run() -> None:
                outcome.append((await Process(command=["true"], stream_output=False).arun()).status_code)

            group.start_soon(run)
            while ticks < 20:  # the loop turns while the record waits for the lock
                await anyio.sleep(0.005)
                ticks += 1
            assert outcome == [] and len(open_record_store().records()) == 1  # not started, not recorded yet
            holder.execute("COMMIT")

    try:
        anyio.run(main)
    finally:
        holder.close()
    assert outcome == [0]
    records = open_record_store().records()
    assert len(records) == 2 and records[0].status is RunStatus.EXITED and records[0].status_code == 0


def test_a_name_in_use_refuses_an_api_run_on_a_loop_before_it_starts(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "1")
    assert recorder.begin("process", command=["true"], name="taken", cli=True) is not None
    marker = tmp_path / "ran"

    async def main() -> None:
        await Process(command=["touch", str(marker)], name="taken").arun()

    with pytest.raises(RunNameInUse):
        anyio.run(main)
    assert not marker.exists() and len(open_record_store().records()) == 1


def test_many_concurrent_runs_on_one_loop_are_all_recorded(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "1")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for index in range(50):
                group.start_soon(Process(command=["sh", "-c", f"exit {index % 5}"], stream_output=False).arun)

    anyio.run(main)
    records = open_record_store().records()
    assert len(records) == 50 and all(record.infrastructure_pid for record in records)
    assert sorted(record.status_code or 0 for record in records) == sorted(index % 5 for index in range(50))


def test_a_recording_begun_on_a_loop_can_still_be_used_by_a_sync_caller(launchbay_home: Path) -> None:
    async def begun() -> recorder.Recording | None:
        return recorder.begin("process", command=["x"], cli=True)

    recording = anyio.run(begun)
    assert recording is not None and open_record_store().records() == []  # left to ``recorded``
    recording.started("host:1")
    recording.end(2, ExitReason.EXITED, None)
    got = open_record_store().get(recording.run_id)
    assert got is not None and (got.infrastructure_pid, got.status_code) == ("host:1", 2)


def test_a_sync_run_is_recorded_in_the_caller_s_thread(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Process.run() from sync code has no event loop to keep free: its record
    # is written where it runs, start and end, without the writer thread.
    import threading

    monkeypatch.setenv("LAUNCHBAY_RECORD_RUNS", "1")
    before = {thread.name for thread in threading.enumerate()}
    result = Process(command=[sys.executable, "-c", "raise SystemExit(4)"], stream_output=False).run()
    [got] = open_record_store().records()
    assert (got.status, got.status_code, got.infrastructure_pid) == (RunStatus.EXITED, 4, result.identifier)
    assert {thread.name for thread in threading.enumerate()} - before <= {"launchbay-cleanup"}
