"""Process against real processes: spawned, streamed, killed with their trees."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from launchbay import InfrastructureNotAvailable, InfrastructureNotFound, Process, ProcessResult
from launchbay._internal.output import OutputRelay
from launchbay.exceptions import InfrastructureError
from tests.proctools import alive, wait_for_file

HOST = socket.gethostname()


def test_exit_codes_and_identifier() -> None:
    ok = Process(command=["true"]).run()
    assert isinstance(ok, ProcessResult) and ok.status_code == 0 and ok
    failed = Process(command=["sh", "-c", "exit 3"]).run()
    assert failed.status_code == 3 and not failed
    host, pid = failed.identifier.rsplit(":", 1)
    assert host == HOST and pid.isdigit()


def test_started_reports_the_same_pid_as_the_result() -> None:
    async def main() -> tuple[str, ProcessResult]:
        results: list[ProcessResult] = []
        async with anyio.create_task_group() as tg:

            async def runner(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                results.append(await Process(command=["sh", "-c", "sleep 0.2"]).run(task_status=task_status))

            pid = await tg.start(runner)
        return pid, results[0]

    pid, result = anyio.run(main)
    assert pid == result.identifier and pid.startswith(f"{HOST}:")


def test_task_group_start_returns_the_pid() -> None:
    async def main() -> str:
        async with anyio.create_task_group() as tg:
            return await tg.start(Process(command=["true"]).run)

    assert anyio.run(main).startswith(f"{HOST}:")


def test_environment_layers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INHERITED", "from-parent")
    monkeypatch.setenv("REMOVED", "should-go")
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://settings")
    out = tmp_path / "env.txt"
    Process(
        command=["sh", "-c", f"env > {out}"],
        env={"OWN": "mine", "REMOVED": None, "LAUNCHBAY_API_URL": "http://override"},
    ).run()
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["INHERITED"] == "from-parent"
    assert env["OWN"] == "mine"
    assert "REMOVED" not in env
    assert env["LAUNCHBAY_API_URL"] == "http://override"


def test_working_dir_default_is_a_fresh_temporary_directory_removed_after(tmp_path: Path) -> None:
    out = tmp_path / "cwd.txt"
    Process(command=["sh", "-c", f"pwd > {out}; touch here"]).run()
    used = Path(out.read_text().strip())
    assert used != Path.cwd() and "launchbay-" in used.name
    assert not used.exists()
    Process(command=["sh", "-c", f"pwd > {out}"], working_dir=tmp_path).run()
    assert Path(out.read_text().strip()) == tmp_path


def test_output_streams_every_byte_in_order(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    script = "import sys,os\nfor i in range(3): os.write(1, b'line %d\\n' % i)\nos.write(2, b'err\\n')\nos.write(1, b'caf\\xe9 tail')"
    result = Process(command=[sys.executable, "-c", script]).run()
    assert result.status_code == 0
    captured = capfdbinary.readouterr()
    assert captured.out == b"line 0\nline 1\nline 2\ncaf\xe9 tail"  # non-UTF-8, no final newline
    assert captured.err == b"err\n"


def test_output_relay_through_python_streams_without_file_descriptors() -> None:
    """Captured or replaced streams (no fileno) get the bytes copied over."""
    stdout_bytes, stderr_bytes = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(stdout_bytes, write_through=True)
    stderr = io.TextIOWrapper(stderr_bytes, write_through=True)
    payload = bytes(range(256)) * 4096 + b"no newline at the end"
    script = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096 + b'no newline at the end'); sys.stderr.buffer.write(b'e' * 70000)"

    async def main() -> None:
        relay = OutputRelay(True, stdout=stdout, stderr=stderr)
        assert relay.stdout_target == subprocess.PIPE
        with relay:
            popen = subprocess.Popen(
                [sys.executable, "-c", script], stdout=relay.stdout_target, stderr=relay.stderr_target
            )
            async with anyio.create_task_group() as tg:
                relay.start(tg, popen)
                await anyio.to_thread.run_sync(popen.wait)
                await relay.drain_after_exit()

    anyio.run(main)
    assert stdout_bytes.getvalue() == payload
    assert stderr_bytes.getvalue() == b"e" * 70000


def test_stream_output_false_discards(capfd: pytest.CaptureFixture[str]) -> None:
    Process(command=["echo", "hidden"], stream_output=False).run()
    assert "hidden" not in capfd.readouterr().out


def test_logs_opening_and_exit_hints(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="launchbay")
    Process(command=["true"], name="quiet-one").run()
    Process(command=["sh", "-c", "kill -TERM $$"]).run()
    messages = [r.getMessage() for r in caplog.records if r.name == "launchbay.infrastructure.process"]
    assert "Opening process 'quiet-one'..." in messages
    assert "Process 'quiet-one' exited cleanly." in messages
    assert any("exited with status code: -15" in m and "SIGTERM" in m for m in messages)


def test_signal_death_is_named_in_the_result() -> None:
    result = Process(command=["sh", "-c", "kill -KILL $$"]).run()
    assert result.status_code == -9 and result.reason == "SIGKILL"


def test_missing_command_is_a_clear_error() -> None:
    with pytest.raises(InfrastructureError, match="Command not found: 'no-such-command-xyz'") as info:
        Process(command=["no-such-command-xyz"]).run()
    assert info.value.exit_code == 127


def test_preview_shows_what_launchbay_sets_then_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_HOME")
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://x")
    preview = Process(command=["echo", "hello world"], env={"A": "1", "GONE": None}).preview()
    assert preview.splitlines() == ["LAUNCHBAY_API_URL=http://x \\", "A=1 \\", "echo 'hello world'"]
    assert "PATH=" not in preview


TREE = """
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "300"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(300)
"""


def test_kill_stops_the_whole_tree(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"

    async def main() -> tuple[ProcessResult, float]:
        async with anyio.create_task_group() as tg:
            results: list[ProcessResult] = []

            async def runner(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                results.append(
                    await Process(command=[sys.executable, "-c", TREE, str(marker)]).run(
                        task_status=task_status
                    )
                )

            pid = await tg.start(runner)
            await anyio.to_thread.run_sync(wait_for_file, marker)
            started = time.monotonic()
            await Process().kill(pid, grace_seconds=5)
            elapsed = time.monotonic() - started
        return results[0], elapsed

    result, elapsed = anyio.run(main)
    grandchild = int(marker.read_text())
    assert result.status_code == -15
    assert not alive(grandchild), "the grandchild survived the kill"
    assert elapsed < 5  # SIGTERM was enough; no wait for the grace period


def test_kill_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = f"trap '' TERM; echo ok > {ready}; while true; do sleep 0.1; done"

    async def main() -> ProcessResult:
        async with anyio.create_task_group() as tg:
            results: list[ProcessResult] = []

            async def runner(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                results.append(await Process(command=["sh", "-c", script]).run(task_status=task_status))

            pid = await tg.start(runner)
            await anyio.to_thread.run_sync(wait_for_file, ready)
            await Process().kill(pid, grace_seconds=1)
        return results[0]

    result = anyio.run(main)
    assert result.status_code == -9 and result.reason == "SIGKILL"


@pytest.mark.slow
def test_kill_from_another_process_given_only_the_pid(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    pid_file = tmp_path / "infra.pid"
    launcher = f"""
import anyio, sys
from launchbay import Process
async def main():
    async with anyio.create_task_group() as tg:
        async def go(*, task_status):
            r = await Process(command=[sys.executable, "-c", {TREE!r}, {str(marker)!r}]).run(task_status=task_status)
            print("status", r.status_code, flush=True)
        pid = await tg.start(go)
        open({str(pid_file)!r}, "w").write(pid)
anyio.run(main)
"""
    run = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    infra_pid = wait_for_file(pid_file)
    grandchild = int(wait_for_file(marker))
    killer = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from launchbay import Process; Process().kill({infra_pid!r}, grace_seconds=5)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killer.returncode == 0, killer.stderr
    out, _ = run.communicate(timeout=30)
    assert "status -15" in out
    assert not alive(grandchild)


def test_kill_errors_for_other_hosts_and_gone_processes() -> None:
    with pytest.raises(InfrastructureNotAvailable, match="runs on host 'elsewhere'"):
        Process().kill("elsewhere:1234")
    finished = Process(command=["true"]).run()
    with pytest.raises(InfrastructureNotFound, match="was not found"):
        Process().kill(finished.identifier)
    with pytest.raises(ValueError, match="expected HOSTNAME:PID"):
        Process().kill(f"{HOST}:abc")


def test_cancelling_a_run_stops_its_tree(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"

    async def main() -> None:
        with anyio.move_on_after(30) as scope:
            async with anyio.create_task_group() as tg:
                await tg.start(Process(command=[sys.executable, "-c", TREE, str(marker)]).run)
                await anyio.to_thread.run_sync(wait_for_file, marker)
                tg.cancel_scope.cancel()
        assert not scope.cancelled_caught

    anyio.run(main)
    assert not alive(int(marker.read_text()))


def test_many_concurrent_runs_use_no_thread_per_run() -> None:
    peak = 0
    before = threading.active_count()  # other tests' long-lived watcher threads

    async def main() -> list[ProcessResult]:
        nonlocal peak
        results: list[ProcessResult] = []

        async def one(i: int) -> None:
            results.append(
                await Process(command=["sh", "-c", f"sleep 0.5; exit {i % 3}"], stream_output=False).run()
            )

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
            await anyio.sleep(0.3)
            peak = threading.active_count()
        return results

    results = anyio.run(main)
    assert len(results) == 100
    assert sorted(r.status_code for r in results) == sorted(i % 3 for i in range(100))
    assert peak - before <= 2, f"{peak - before} new threads for 100 runs"


def test_attach_waits_for_a_process_started_elsewhere(tmp_path: Path) -> None:
    """A run started by another launchbay process (here: the CLI) is attached
    to by its id and waited for; its exit code belongs to its launcher."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "launchbay.cli", "run", "--", "sleep", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stderr is not None
        line = launcher.stderr.readline()
        while "started" not in line:
            line = launcher.stderr.readline()
        identifier = line.split("started", 1)[1].strip()
        result = Process().attach(identifier)
    finally:
        launcher.wait()
    assert result.status_code == -1 and "another launcher" in (result.reason or "")
    with pytest.raises(InfrastructureNotFound):
        Process().attach(identifier)


def test_attach_refuses_a_process_launchbay_did_not_start() -> None:
    proc = subprocess.Popen(["sleep", "5"], start_new_session=True)
    try:
        with pytest.raises(InfrastructureNotFound, match="not a launchbay run"):
            Process().attach(f"{HOST}:{proc.pid}")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_temporary_directories_are_gone_once_the_interpreter_exits(tmp_path: Path) -> None:
    record = tmp_path / "record"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = (
        "from launchbay import Process\n"
        f"for _ in range(5): Process(command=['sh', '-c', 'pwd >> {record}; touch left-behind']).run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    used = record.read_text().split()
    assert len(used) == 5 and all(Path(p).parent == tmp for p in used)
    assert list(tmp.iterdir()) == []  # no run directory, nothing ".removing"


def test_each_run_gets_a_fresh_private_directory_of_its_own(tmp_path: Path) -> None:
    # Directories are made ahead for the next run: each must still be new,
    # empty when the run starts, and the owner's alone.
    record = tmp_path / "record"
    script = f'echo "$PWD $(ls -A | wc -l) $(stat -c %a .)" >> {record}; touch left-behind'
    for _ in range(4):
        assert Process(command=["sh", "-c", script], stream_output=False).run().status_code == 0
    lines = [line.split() for line in record.read_text().splitlines()]
    assert len({path for path, _, _ in lines}) == 4
    assert all((entries, mode) == ("0", "700") for _, entries, mode in lines)
    assert not any(Path(path).exists() for path, _, _ in lines)


def test_sync_run_relays_to_streams_without_file_descriptors(capsys: pytest.CaptureFixture[str]) -> None:
    """capsys swaps sys.stdout for an object with no fileno: the bytes are copied."""
    result = Process(command=["sh", "-c", "printf 'out\\nlast'; printf err >&2"]).run()
    assert result.status_code == 0
    captured = capsys.readouterr()
    assert captured.out == "out\nlast" and captured.err == "err"


def test_preview_masks_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "postgresql://u:S3cretPW@127.0.0.1:5432/db")
    shown = Process(command=["true"], env={"OTHER": "https://me:pw2@example.com/x"}).preview()
    assert "S3cretPW" not in shown and "pw2" not in shown
    assert "LAUNCHBAY_DATABASE_URL=postgresql://u:***@127.0.0.1:5432/db" in shown
    done = subprocess.run(
        [sys.executable, "-m", "launchbay.cli", "preview", "--", "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "S3cretPW" not in done.stdout + done.stderr
