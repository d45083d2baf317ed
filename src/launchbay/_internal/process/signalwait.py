"""Waiting for a blocking run while acting on the signals we receive.

The one loop for every supervisor without an event loop (the CLI's fast path,
a detached run's supervisor): the signals arrive on a pipe
(``signals.signals_to_pipe``), and one ``poll`` waits for the leader (its
pidfd), that pipe and the next deadline. SPEC 13's policy (``SignalPolicy``)
decides: the first stop signal is forwarded to the whole tree, a second kills
it, the grace ends with a kill; Ctrl+Z suspends the tree and then us, and a
continue resumes it. Once a stop has begun (a signal, the timeout), the wait
lasts until the rest of the tree is gone or its grace is over: the grace is
the whole tree's, not only its leader's.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterable

from launchbay._internal.exits import ExitReason
from launchbay._internal.process.containment import Scope
from launchbay._internal.signals import Action, SignalPolicy

# Poll interval once only the rest of the tree is awaited (no pidfd to wait on).
_FIRST_IDLE_SECONDS = 0.002
_MAX_IDLE_SECONDS = 0.1


def suspend_self(scopes: Iterable[Scope]) -> None:
    """Ctrl+Z: the runs' trees stop first, then this process; ``fg`` resumes both."""
    scopes = list(scopes)
    for scope in scopes:
        with contextlib.suppress(OSError):
            scope.freeze()
    os.kill(os.getpid(), signal.SIGSTOP)
    resume(scopes)  # continued (fg, bg or SIGCONT)


def resume(scopes: Iterable[Scope]) -> None:
    for scope in scopes:
        with contextlib.suppress(OSError):
            scope.thaw()


def wait_with_signals(
    popen: subprocess.Popen[bytes],
    scope: Scope,
    signals: int,
    policy: SignalPolicy,
    timeout: float | None,
    mark: Callable[[ExitReason], None],
    *,
    announce: Callable[[int, Action], None] | None = None,
    every_second: Callable[[], None] | None = None,
) -> int:
    """Until the run ends (see the module); returns the leader's exit status.
    ``announce`` hears of each signal and what it does; ``every_second`` is
    called at least once a second (a subreaper reaping orphans)."""
    pidfd = os.pidfd_open(popen.pid) if hasattr(os, "pidfd_open") else -1
    poller = select.poll()
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    poller.register(signals, select.POLLIN)
    timeout_at = None if timeout is None else time.monotonic() + timeout
    kill_at: float | None = None
    idle = _FIRST_IDLE_SECONDS
    try:
        while True:
            leader_done = popen.poll() is not None
            if leader_done and (kill_at is None or not scope.has_members()):
                break
            if leader_done and pidfd >= 0:
                poller.unregister(pidfd)  # readable for good now
                os.close(pidfd)
                pidfd = -1
            deadlines = [t for t in (timeout_at, kill_at) if t is not None]
            wait_ms = None if not deadlines else max(0, int((min(deadlines) - time.monotonic()) * 1000) + 1)
            if pidfd < 0:
                step = int(idle * 1000) + 1
                wait_ms = step if wait_ms is None else min(wait_ms, step)
                idle = min(idle * 2, _MAX_IDLE_SECONDS)
            if every_second is not None:
                wait_ms = 1000 if wait_ms is None else min(wait_ms, 1000)
            poller.poll(wait_ms)
            for signum in _drain(signals):
                action = policy.on_signal(signum)
                if announce is not None:
                    announce(signum, action)
                if action is Action.FORWARD:
                    mark(ExitReason.CANCELLED)
                    scope.signal(signum)
                    kill_at = time.monotonic() + policy.grace_seconds
                elif action is Action.KILL:
                    mark(ExitReason.CANCELLED)
                    scope.kill()
                elif action is Action.SUSPEND:
                    suspend_self([scope])
                elif action is Action.RESUME:
                    resume([scope])
            now = time.monotonic()
            if timeout_at is not None and now >= timeout_at:
                timeout_at = None
                mark(ExitReason.TIMED_OUT)
                scope.signal(signal.SIGTERM)
                if kill_at is None:
                    kill_at = now + policy.grace_seconds
            if kill_at is not None and now >= kill_at:
                kill_at = None
                scope.kill()
            if every_second is not None:
                every_second()
        return popen.wait()
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _drain(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""
