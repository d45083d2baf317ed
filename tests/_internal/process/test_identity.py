"""An infrastructure pid names exactly one run (SPEC 13): every other id is
refused with InfrastructureNotFound and nothing is signalled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from launchbay import InfrastructureNotAvailable, InfrastructureNotFound, Process
from launchbay._internal.process import registry
from tests.proctools import alive

HOST = socket.gethostname()


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process launchbay did not start, leading its own session and group
    (so a careless kill of its group would reach it)."""
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _refused(identifier: str, *, cli: bool = False) -> None:
    if cli:
        done = subprocess.run(
            [sys.executable, "-m", "launchbay.cli", "kill", identifier, "--grace", "1"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "not found" in done.stderr
        return
    with pytest.raises(InfrastructureNotFound):
        Process().kill(identifier, grace_seconds=1)
    with pytest.raises(InfrastructureNotFound):
        Process().attach(identifier)


@pytest.mark.parametrize("cli", [False, True], ids=["api", "cli"])
@pytest.mark.parametrize(
    "identifier",
    [
        f"{HOST}:0",
        f"{HOST}:1",
        f"{HOST}:१२",  # Devanagari digits: int() would read 12
        f"{HOST}:99999999999999999999999",  # would overflow a C pid_t
        f"{HOST}:-5",
        f"{HOST}: 12",
        f"{HOST}:12@x",
    ],
)
def test_ids_that_cannot_name_a_run_are_refused(identifier: str, cli: bool) -> None:
    _refused(identifier, cli=cli)


@pytest.mark.parametrize("cli", [False, True], ids=["api", "cli"])
def test_a_process_launchbay_did_not_start_is_not_signalled(
    stranger: subprocess.Popen[bytes], cli: bool
) -> None:
    _refused(f"{HOST}:{stranger.pid}", cli=cli)
    time.sleep(0.2)
    assert stranger.poll() is None


def test_launchbay_itself_and_its_group_are_not_signalled() -> None:
    for pid in {os.getpid(), os.getpgrp()}:
        _refused(f"{HOST}:{pid}")


def test_the_calling_shell_is_not_signalled() -> None:
    """`launchbay kill HOST:$$` from a shell: the shell (the CLI's parent)."""
    done = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -m launchbay.cli kill "{HOST}:$$"; echo "shell alive $?"'],
        capture_output=True,
        text=True,
    )
    assert "shell alive 1" in done.stdout, done


def test_another_hosts_pid_is_not_available() -> None:
    with pytest.raises(InfrastructureNotAvailable, match="runs on host 'elsewhere'"):
        Process().kill("elsewhere:1234")


def test_a_pid_reused_after_the_run_ended_is_refused(tmp_path: Path) -> None:
    """The kernel gives a finished run's pid to a newcomer (forced here through
    ns_last_pid, as root): the run's id must not reach the newcomer."""
    finished = Process(command=["true"]).run()
    pid = int(finished.identifier.rsplit(":", 1)[1])
    newcomer = _spawn_with_pid(pid)
    try:
        _refused(finished.identifier)
        _refused(finished.identifier, cli=True)
        assert newcomer.poll() is None
    finally:
        newcomer.kill()
        newcomer.wait()


def test_a_stale_registry_entry_does_not_vouch_for_a_newcomer(tmp_path: Path) -> None:
    """A supervisor that crashed leaves its run's registry file behind: it
    names the old process (pid and start time), never a newcomer with the pid."""
    finished = Process(command=["true"]).run()
    pid = int(finished.identifier.rsplit(":", 1)[1])
    newcomer = _spawn_with_pid(pid)
    stale = registry.RunEntry(
        pid=pid,
        start_ticks=1,
        supervisor="1@1",
        containment="session",
        cgroup=None,
        token="gone",
        workdir=None,
    )
    registry.REGISTRY.add(stale)
    try:
        _refused(finished.identifier)
        assert newcomer.poll() is None
    finally:
        registry.REGISTRY.remove(stale)
        newcomer.kill()
        newcomer.wait()


def _spawn_with_pid(pid: int) -> subprocess.Popen[bytes]:
    """A `sleep` that gets ``pid`` (root only: /proc/sys/kernel/ns_last_pid)."""
    if os.geteuid() != 0:
        pytest.fail("this test forces pid reuse through ns_last_pid and must run as root (CI does)")
    for _ in range(50):
        with open("/proc/sys/kernel/ns_last_pid", "w") as handle:
            handle.write(str(pid - 1))
        proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    pytest.fail(f"could not get pid {pid} again")


def test_a_running_runs_id_is_accepted_with_or_without_its_start_time() -> None:
    """``HOST:PID`` (as the reference writes it) and ``HOST:PID@START`` both
    name a live run once it verifies as launchbay's."""
    from launchbay._internal.process import procfs

    async def main() -> None:
        for form in ("plain", "with-start"):
            async with anyio.create_task_group() as tg:
                identifier = await tg.start(Process(command=["sleep", "30"]).arun)
                pid = int(identifier.rsplit(":", 1)[1])
                stat = procfs.read_stat(pid)
                assert stat is not None
                target = identifier if form == "plain" else f"{identifier}@{stat.start_ticks}"
                await Process().akill(target, grace_seconds=5)
                assert not alive(pid)

    anyio.run(main)


def test_a_grace_that_is_not_a_number_signals_nothing() -> None:
    async def main() -> None:
        async with anyio.create_task_group() as tg:
            identifier = await tg.start(Process(command=["sleep", "30"]).arun)
            pid = int(identifier.rsplit(":", 1)[1])
            for grace in ("5", -1, float("nan"), None, True):
                with pytest.raises((TypeError, ValueError)):
                    await Process().akill(identifier, grace_seconds=grace)  # type: ignore[arg-type]
            assert alive(pid)
            await Process().akill(identifier, grace_seconds=1)

    anyio.run(main)


class _KillFromAnotherProcess:
    """A task status whose ``started`` stops the run at once with
    ``launchbay kill`` run as another process."""

    def __init__(self) -> None:
        self.killed: subprocess.CompletedProcess[str] | None = None

    def started(self, identifier: str) -> None:
        self.killed = subprocess.run(
            [sys.executable, "-m", "launchbay.cli", "kill", identifier, "--grace", "5"],
            capture_output=True,
            text=True,
        )


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_run_can_be_stopped_from_another_process_the_moment_its_id_is_reported(api: str) -> None:
    """The id is reported once the run is named for other processes (its
    registry file): a kill from another shell at that very moment finds the
    run and stops it, it is never told the run does not exist."""
    status = _KillFromAnotherProcess()
    process = Process(command=["sleep", "30"])
    if api == "sync":
        result = process.run(task_status=status)  # type: ignore[arg-type]
    else:
        result = anyio.run(process.arun, status)  # type: ignore[arg-type]
    assert status.killed is not None
    assert status.killed.returncode == 0, status.killed.stderr
    assert result.status_code == -15
