"""Waiting for and signalling local process trees without a thread per process.

A run's process is started as the leader of its own session, so its id is also
its process group id: signalling the group reaches every descendant that did not
leave it, which is how launchbay leaves no orphans.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import anyio

# Liveness polls start fast (a process that exits on SIGTERM is seen within
# milliseconds) and back off to at most once a second.
_FIRST_POLL_SECONDS = 0.002
_MAX_POLL_SECONDS = 1.0


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one: each concurrent run holds
    a pidfd (and pipes when relaying), and 1024 runs out quickly."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


async def wait_for_exit(popen: subprocess.Popen[bytes]) -> int:
    """Wait for a child to exit and reap it; returns Popen's returncode
    (negative signal number when killed by a signal).

    On Linux the event loop watches a pidfd, so any number of children are
    waited on by the loop's one thread.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None and popen.returncode is None:
        try:
            pidfd = pidfd_open(popen.pid)
        except OSError:
            pidfd = None
        if pidfd is not None:
            try:
                await anyio.wait_readable(pidfd)
            finally:
                os.close(pidfd)
            return popen.wait()
    delay = _FIRST_POLL_SECONDS
    while (returncode := popen.poll()) is None:
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.1)
    return returncode


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a pid from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def _group_has_running_member(pgid: int) -> bool:
    """Whether any member of the group is running (not a zombie awaiting reaping)."""
    leader = _proc_stat(pgid)
    if leader is not None and leader[0] not in ("Z", "X") and leader[1] == pgid:
        return True
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
            return True
    return False


def group_alive(pgid: int) -> bool:
    """Whether the process group (or, failing that, the single process) still
    has a running member."""
    if sys.platform == "win32":
        return _windows_process_alive(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        try:
            os.kill(pgid, 0)  # a plain process that leads no group
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _proc_stat(pgid) is None or _proc_stat(pgid)[0] not in ("Z", "X")  # type: ignore[index]
    except PermissionError:
        return True
    if sys.platform.startswith("linux"):
        return _group_has_running_member(pgid)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    """Signal the group; a pid that leads no group gets the signal alone.
    Raises ProcessLookupError when neither exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        os.kill(pgid, signum)


async def wait_for_group_exit(pgid: int, timeout: float | None = None) -> bool:
    """Wait until no member of the group runs; False if ``timeout`` passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = _FIRST_POLL_SECONDS
    cap = _MAX_POLL_SECONDS if timeout is None else min(_MAX_POLL_SECONDS, max(timeout / 10, 0.01))
    while group_alive(pgid):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await anyio.sleep(min(delay, remaining))
        else:
            await anyio.sleep(delay)
        delay = min(delay * 2, cap)
    return True


async def terminate_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM the group, then SIGKILL whatever still runs after the grace period.

    Raises ProcessLookupError if there is nothing to signal.
    """
    if sys.platform == "win32":
        os.kill(pgid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        if not await wait_for_group_exit(pgid, grace_seconds):
            os.kill(pgid, signal.SIGTERM)  # TerminateProcess on Windows
        return
    if not group_alive(pgid):
        raise ProcessLookupError(pgid)
    _signal_group(pgid, signal.SIGTERM)
    if await wait_for_group_exit(pgid, grace_seconds):
        return
    try:
        _signal_group(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    await wait_for_group_exit(pgid, timeout=5)


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
