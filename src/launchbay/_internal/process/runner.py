"""Starting, watching and stopping a local process run, without a thread per run.

A run's process leads a session of its own and is started inside the run's
containment scope (see ``containment``), so that every descendant belongs to
the run. Its id is ``HOST:PID``, as the reference writes it (``HOST:PID@START``,
with the process's start time, is accepted too): the registry file its
supervisor keeps for it holds the start time, so any process can check that an
id still names that very run before signalling anything.

Each wait comes twice: ``async`` for the event loop (many runs, one thread,
pidfds) and ``*_blocking`` for sync callers with one run, who need no event
loop at all. The stop sequence is written once, as a generator of sleeps that
both drive.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, NamedTuple

from launchbay._internal import pids
from launchbay._internal.exits import ExitReason, signal_name
from launchbay._internal.process import containment, procfs
from launchbay._internal.process.registry import REGISTRY, RunEntry, entries_for, note_stopping
from launchbay._internal.process.spec import ProcessSpec, display_name
from launchbay._internal.process.supervisor import SUPERVISOR
from launchbay._internal.process.watchdog import WATCHDOG
from launchbay._internal.process.workdir import working_directory
from launchbay._internal.stopping import Escalated, StopRequest, current_stop_request
from launchbay.exceptions import InfrastructureError, InfrastructureNotAvailable, InfrastructureNotFound

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from launchbay._internal.output import OutputRelay
    from launchbay._internal.process.startgate import StartGate

# Liveness polls start fast (a process that exits on SIGTERM is seen within
# a fraction of a millisecond) and back off to at most once a second.
_FIRST_POLL_SECONDS = 0.0002
_MAX_POLL_SECONDS = 1.0

_WINDOWS_CTRL_C_STATUS = 0xC000013A

# What is left of a tree when its leader exits gets SIGTERM, then this long
# before it is killed (unless a kill in progress gave it a longer grace).
_LEFTOVER_GRACE_SECONDS = 1.0

# How long a start waits for its child to get past its exec before it names
# the run (see ``_Run.register``); a child that ends sooner wakes it at once.
_SETTLE_SECONDS = 0.0005

_EXIT_HINTS = {
    -signal.SIGKILL: "This indicates that the process exited due to a SIGKILL signal. "
    "Typically, this is either caused by manual cancellation or high memory usage "
    "causing the operating system to terminate the process.",
    -signal.SIGTERM: "This indicates that the process exited due to a SIGTERM signal. "
    "Typically, this is caused by manual cancellation.",
    247: "This indicates that the process was terminated due to high memory usage.",
    _WINDOWS_CTRL_C_STATUS: "Process was terminated due to a Ctrl+C or Ctrl+Break signal. "
    "Typically, this is caused by manual cancellation.",
}


class RunOutcome(NamedTuple):
    """How a process run ended, for the block to wrap in its result."""

    identifier: str
    status_code: int
    reason: str | None
    exit_reason: ExitReason


# --- the supervising process ----------------------------------------------------------------


# The scopes of the runs this process is watching now (for job control).
ACTIVE_SCOPES: set[containment.Scope] = set()


def containment_in_effect() -> str:
    """The mechanism runs started now would use (``launchbay info``)."""
    chosen = SUPERVISOR.containment()
    if not ACTIVE_SCOPES:
        chosen.close()
    return chosen.mechanism


# --- start and end -----------------------------------------------------------------------


def spawn(
    command: tuple[str, ...], cwd: str, env: dict[bytes, bytes] | None, stdout: int, stderr: int
) -> subprocess.Popen[bytes]:
    """Start ``command`` (never through a shell) as the leader of a new
    session; failures become InfrastructureErrors with the CLI's exit codes."""
    if not command or not command[0]:
        raise InfrastructureError("The command is empty: nothing to run.", exit_code=2)
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        # Its own session: the terminal's Ctrl+C reaches launchbay, which
        # decides what to do, and the tree can be signalled apart from us.
        kwargs["start_new_session"] = True
    try:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=stdout, stderr=stderr, close_fds=True, **kwargs
        )
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            problem = "is not a directory" if os.path.exists(cwd) else "does not exist"
            raise InfrastructureError(f"Working directory {cwd!r} {problem}.") from None
        raise InfrastructureError(
            f"Command not found: {command[0]!r} ({exc.strerror}).", exit_code=127
        ) from None
    except NotADirectoryError:
        raise InfrastructureError(f"Working directory {cwd!r} is not a directory.") from None
    except PermissionError as exc:
        if not os.access(cwd, os.X_OK):
            raise InfrastructureError(f"Working directory {cwd!r}: permission denied.") from None
        raise InfrastructureError(f"Cannot execute {command[0]!r}: {exc.strerror}.", exit_code=126) from None
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            raise OutOfDescriptors() from None
        raise InfrastructureError(f"Cannot start {command[0]!r}: {exc.strerror or exc}.") from None


class OutOfDescriptors(InfrastructureError):
    """No file descriptor is free to start another run."""

    def __init__(self) -> None:
        super().__init__(
            "Too many open files to start another run: raise the limit with "
            "`ulimit -n` or launchbay.raise_open_file_limit()."
        )


class _Run:
    """One run's life, shared by the async and the blocking paths: start it in
    its scope, register it, and at the end stop what is left of its tree."""

    def __init__(self, spec: ProcessSpec, logger: logging.Logger) -> None:
        self.spec = spec
        self.logger = logger
        self.stack = ExitStack()
        self.popen: subprocess.Popen[bytes] | None = None
        self.entry: RunEntry | None = None
        self.identifier = ""
        self.temporary: str | None = None  # a fresh working directory, removed at the end
        self._named = False  # register() has run
        self.in_registry = False
        self._tree_gone = False  # register() saw the leader exited and its cgroup empty
        self.pidfd = -1  # the leader's pidfd, on the event loop
        self.stopped_by: ExitReason | None = None  # set when launchbay stopped it

    def start(self, stdout: int, stderr: int) -> subprocess.Popen[bytes]:
        supervisor_key = SUPERVISOR.key
        try:
            chosen = SUPERVISOR.containment()
            WATCHDOG.ensure(supervisor_key)
            cwd, self.temporary = working_directory(self.stack, self.spec.working_dir, supervisor_key)
            scope = self.scope = chosen.new_scope()
            self.stack.callback(scope.release)
            marker = chosen.marker(scope)
            if marker is not None:
                WATCHDOG.tell("session")  # its sweep must look for the marker
            env = self.spec.environment(dict([marker]) if marker else None)
            self.logger.info("Opening process%s...", self.spec.display_name)
            with scope.spawning():
                popen = spawn(self.spec.command, cwd, env, stdout, stderr)
        except OSError as exc:
            self.stack.close()
            if exc.errno == errno.EMFILE:
                raise OutOfDescriptors() from None
            raise
        except BaseException:
            self.stack.close()
            raise
        self.popen = popen
        # HOST:PID, as the reference writes it; the registry file (keyed by pid
        # and start time) is what proves the pid still names this run.
        self.identifier = str(pids.ProcessPid(SUPERVISOR.host, popen.pid, None))
        return popen

    def register(self) -> None:
        """Name the started run for everyone: its scope learns the leader, and
        other processes get its registry file (unless the run is over already:
        an id no one has been given needs no file to verify it). Call it
        through ``settle`` or ``asettle``, before the id is reported."""
        if self.popen is None or self._named:
            return
        entry = self._identify()
        self._named = True
        if _exited(entry.pid) and not self.scope.has_members():
            # An empty cgroup stays empty (nothing is left in it to fork): the
            # end need not look again. A session's members are not so exact.
            self._tree_gone = self.scope.mechanism != "session"
            return
        REGISTRY.add(entry)
        self.in_registry = True

    def _identify(self) -> RunEntry:
        """The run's entry, with the leader's start time from /proc."""
        if self.entry is None:
            assert self.popen is not None
            pid = self.popen.pid
            stat = procfs.read_stat(pid)
            start_ticks = stat.start_ticks if stat is not None else 0
            self.scope.started(pid, start_ticks)
            self.entry = RunEntry(
                pid=pid,
                start_ticks=start_ticks,
                supervisor=SUPERVISOR.key,
                containment=self.scope.mechanism,
                cgroup=self.scope.cgroup,
                token=self.scope.token,
                workdir=self.temporary,
            )
            ACTIVE_SCOPES.add(self.scope)
        return self.entry

    # Reading a child's /proc/<pid>/stat while the kernel is still loading its
    # program blocks for up to a millisecond (measured: median 26 µs, p90
    # 0.96 ms right after the start; p90 under 30 µs half a millisecond later).
    # Without a loop we would wait for the child anyway; on the loop the other
    # runs must not wait, so the read comes after a short wait for the child.

    def settle(self) -> None:
        """Identify the run, give the child up to ``_SETTLE_SECONDS`` to end
        (a run over by then needs no registry file), then ``register``."""
        if self.popen is not None and not self._named:
            self._identify()
            with contextlib.suppress(AttributeError, OSError):
                fd = os.pidfd_open(self.popen.pid)
                try:
                    poller = select.poll()
                    poller.register(fd, select.POLLIN)
                    poller.poll(_SETTLE_SECONDS * 1000)
                finally:
                    os.close(fd)
        self.register()

    async def asettle(self) -> None:
        """``settle`` on the event loop: the wait comes first and lets other
        runs go on. Its pidfd stays for ``wait_for_exit`` (closed at the end)."""
        import anyio

        if self.popen is not None and not self._named:
            with contextlib.suppress(AttributeError, OSError):
                self.pidfd = os.pidfd_open(self.popen.pid)
                self.stack.callback(os.close, self.pidfd)
            if self.pidfd >= 0:
                with anyio.move_on_after(_SETTLE_SECONDS):
                    await anyio.wait_readable(self.pidfd)
        self.register()

    def finish(self) -> None:
        """The run has ended: whatever of its tree still runs is stopped (a run
        leaves nothing behind), then its scope, registry file and directory go."""
        try:
            drive_blocking(self._leftover_steps())
        finally:
            self._release()

    async def afinish(self) -> None:
        """``finish`` on the event loop (the leftovers' grace does not block it)."""
        import anyio

        with anyio.CancelScope(shield=True):
            try:
                await drive_async(self._leftover_steps())
            finally:
                self._release()

    def _leftover_steps(self) -> Steps:
        """The leader is gone but part of its tree may run on. Someone stopping
        the run (``kill``, maybe from another process) has already signalled it:
        its grace is honoured. Otherwise the rest gets SIGTERM and a short grace."""
        if self.popen is None:
            return True
        self.register()
        self.popen.poll()
        if not self._tree_gone and self.scope.has_members():
            assert self.entry is not None
            deadline = REGISTRY.stopping_deadline(self.entry) if self.in_registry else None
            if deadline is None:
                self.scope.signal(signal.SIGTERM)
                deadline = time.time() + _LEFTOVER_GRACE_SECONDS
            yield from _until_gone(self.scope, deadline)
            self.scope.kill()
        return True

    def _release(self) -> None:
        try:
            if self.popen is not None:
                self.popen.wait()
        finally:
            ACTIVE_SCOPES.discard(self.scope)
            if self.entry is not None and self.in_registry:
                REGISTRY.remove(self.entry)
            self.stack.close()

    def outcome(self, returncode: int) -> RunOutcome:
        reason = exit_reason_text(returncode)
        kind = self.stopped_by or (ExitReason.SIGNALED if returncode < 0 else ExitReason.EXITED)
        if self.stopped_by is ExitReason.TIMED_OUT:
            reason = f"timed out after {self.spec.timeout_seconds:g} s"
            self.logger.error(
                "Process%s timed out after %g s and was stopped (status code %s).",
                self.spec.display_name,
                self.spec.timeout_seconds,
                returncode,
            )
        else:
            log_exit(self.logger, self.spec.name, returncode)
        return RunOutcome(self.identifier, returncode, reason, kind)


def _exited(pid: int) -> bool:
    """Whether our child has exited (it is not reaped: its pid stays its own)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


# --- the stop sequence, written once --------------------------------------------------------


def _poll_cap(timeout: float | None) -> float:
    return _MAX_POLL_SECONDS if timeout is None else min(_MAX_POLL_SECONDS, max(timeout / 10, 0.01))


Steps = Generator[float, None, bool]


def _until_gone(scope: containment.Scope, deadline: float) -> Steps:
    """Wait (by ``time.time()``) until nothing of the tree runs or ``deadline``."""
    delay = _FIRST_POLL_SECONDS
    while scope.has_members() and (remaining := deadline - time.time()) > 0:
        yield min(delay, remaining)
        delay = min(delay * 2, 0.1)
    return not scope.has_members()


def stop_steps(
    scope: containment.Scope,
    signum: int,
    grace_seconds: float,
    reap: Callable[[], object] | None = None,
) -> Steps:
    """Send ``signum`` to the whole tree, give it ``grace_seconds`` to go, then
    kill what remains. Yields how long to sleep before looking again; returns
    True when nothing of the tree remains."""
    scope.signal(signum)
    deadline = time.monotonic() + grace_seconds
    delay, cap = _FIRST_POLL_SECONDS, _poll_cap(grace_seconds)
    while True:
        if reap is not None:
            reap()  # our own leader: a zombie must not count as alive
        if not scope.has_members():
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        yield min(delay, remaining)
        delay = min(delay * 2, cap)
    return scope.kill()


async def drive_async(steps: Steps, request: StopRequest | None = None) -> bool:
    """Run ``steps`` on the event loop; an escalated ``request`` cuts the
    grace short (the generator is closed and the caller kills)."""
    import anyio

    try:
        while True:
            delay = next(steps)
            if request is None:
                await anyio.sleep(delay)
            else:
                await request.sleep_unless_escalated(delay)
    except StopIteration as done:
        return bool(done.value)


def drive_blocking(steps: Steps) -> bool:
    try:
        while True:
            time.sleep(next(steps))
    except StopIteration as done:
        return bool(done.value)


def _stop_own_run_blocking(run: _Run, reason: ExitReason, request: StopRequest) -> None:
    """Stop a run we started (cancelled, interrupted, timed out); a second
    interrupt during the grace kills the tree at once: never abandoned."""
    assert run.popen is not None
    run.register()  # before any reaping: the scope must know its leader
    if run.stopped_by is None:
        run.stopped_by = reason
    popen = run.popen
    if popen.poll() is not None and not run.scope.has_members():
        return
    if reason is ExitReason.CANCELLED:
        run.logger.warning("Run cancelled: stopping process%s (pid %s)", run.spec.display_name, popen.pid)
    try:
        drive_blocking(stop_steps(run.scope, request.signum, request.grace_seconds, popen.poll))
    except BaseException:
        run.scope.kill()
        raise


async def _stop_own_run(run: _Run, reason: ExitReason, request: StopRequest) -> None:
    import anyio

    assert run.popen is not None
    run.register()  # before any reaping: the scope must know its leader
    if run.stopped_by is None:
        run.stopped_by = reason
    popen = run.popen
    if popen.poll() is not None and not run.scope.has_members():
        return
    if reason is ExitReason.CANCELLED:
        run.logger.warning("Run cancelled: stopping process%s (pid %s)", run.spec.display_name, popen.pid)
    with anyio.CancelScope(shield=True):
        try:
            steps = stop_steps(run.scope, request.signum, request.grace_seconds, popen.poll)
            await drive_async(steps, request)
        except Escalated:
            run.scope.kill()  # a second signal: no more grace
        except BaseException:
            run.scope.kill()  # interrupted again (a second Ctrl+C): never abandon the tree
            raise


# --- waiting ---------------------------------------------------------------------------------


async def wait_for_exit(popen: subprocess.Popen[bytes], pidfd: int = -1) -> int:
    """Wait for a child to exit and reap it; returns Popen's returncode
    (negative signal number when killed by a signal).

    On Linux the event loop watches a pidfd (``pidfd``, or one opened here), so
    any number of children are waited on by the loop's one thread.
    """
    import anyio

    own = -1
    if pidfd < 0 and popen.returncode is None:
        with contextlib.suppress(AttributeError, OSError):
            pidfd = own = os.pidfd_open(popen.pid)
    if pidfd >= 0 and popen.returncode is None:
        try:
            await anyio.wait_readable(pidfd)
        finally:
            if own >= 0:
                os.close(own)
        return popen.wait()
    delay = _FIRST_POLL_SECONDS
    while (returncode := popen.poll()) is None:
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.1)
    return returncode


# --- a whole run --------------------------------------------------------------------------------


async def run(
    spec: ProcessSpec,
    task_status: TaskStatus[str],
    logger: logging.Logger,
    relay: OutputRelay,
) -> RunOutcome:
    """A whole run on the event loop: start, report the id, wait (for the
    output too), and stop the tree if cancelled or timed out."""
    import anyio

    from launchbay._internal.process import startgate  # here: only the loop has a start gate

    current = _Run(spec, logger)
    gate = startgate.current()
    popen = await _start_when_possible(current, relay, gate)
    gate.started()
    try:
        await current.asettle()
        task_status.started(current.identifier)
        if popen.stdout is None and popen.stderr is None:
            returncode = await _wait_within_timeout(current, popen)  # nothing to relay
        else:
            async with anyio.create_task_group() as tg:
                relay.start(tg, popen)
                returncode = await _wait_within_timeout(current, popen)
                await relay.drain_after_exit(current.scope.has_members)
    except BaseException:
        await _stop_own_run(current, ExitReason.CANCELLED, current_stop_request())
        await current.afinish()
        gate.ended()
        raise
    await current.afinish()
    gate.ended()
    return current.outcome(returncode)


async def _wait_within_timeout(current: _Run, popen: subprocess.Popen[bytes]) -> int:
    """The leader's exit status; past the spec's timeout, the tree is stopped."""
    import anyio

    timeout = current.spec.timeout_seconds
    if timeout is None:
        return await wait_for_exit(popen, current.pidfd)
    with anyio.move_on_after(timeout):
        return await wait_for_exit(popen, current.pidfd)
    await _stop_own_run(current, ExitReason.TIMED_OUT, current_stop_request())
    return popen.wait()


async def _start_when_possible(current: _Run, relay: OutputRelay, gate: StartGate) -> subprocess.Popen[bytes]:
    """Start the run when the gate lets it (see ``startgate``); with no file
    descriptor free, once another run of this loop has ended."""
    while True:
        await gate.enter()
        began = time.monotonic()
        try:
            return current.start(relay.stdout_target, relay.stderr_target)
        except OutOfDescriptors:
            pass
        finally:
            gate.leave(time.monotonic() - began)
        if not await gate.wait_for_descriptors():
            raise OutOfDescriptors()
        current.stack = ExitStack()  # the failed start closed its own


# A wait that replaces the plain one (the CLI's signal loop): it gets the
# process, its scope and a way to say why launchbay stopped it.
Waiter = Callable[[subprocess.Popen[bytes], containment.Scope, Callable[[ExitReason], None]], int]


def run_blocking(
    spec: ProcessSpec,
    *,
    logger: logging.Logger,
    output_fds: tuple[int, int] | None,
    on_started: Callable[[str], None] | None = None,
    waiter: Waiter | None = None,
) -> RunOutcome:
    """A whole run without an event loop: start, report the id, wait, log the
    end. ``output_fds`` are where the child writes (``direct_output_fds()``),
    None to discard its output. ``waiter`` replaces the plain wait.

    Interrupted while waiting (Ctrl+C, an exception from ``on_started`` or a
    signal handler), it stops the whole tree before re-raising, like a
    cancelled async run.
    """
    stdout, stderr = output_fds if output_fds is not None else (subprocess.DEVNULL,) * 2
    current = _Run(spec, logger)
    popen = current.start(stdout, stderr)

    def mark(reason: ExitReason) -> None:
        if current.stopped_by is None:
            current.stopped_by = reason

    try:
        current.settle()
        if on_started is not None:
            on_started(current.identifier)
        if waiter is not None:
            returncode = waiter(popen, current.scope, mark)
        elif spec.timeout_seconds is None:
            returncode = popen.wait()
        else:
            try:
                returncode = popen.wait(timeout=spec.timeout_seconds)
            except subprocess.TimeoutExpired:
                _stop_own_run_blocking(current, ExitReason.TIMED_OUT, current_stop_request())
                returncode = popen.wait()
    except BaseException:
        _stop_own_run_blocking(current, ExitReason.CANCELLED, current_stop_request())
        current.finish()
        raise
    current.finish()
    return current.outcome(returncode)


# --- exits -----------------------------------------------------------------------------------------


def exit_reason_text(returncode: int) -> str | None:
    if returncode < 0:
        return signal_name(-returncode)
    if returncode == 247:
        return "terminated due to high memory usage"
    return None


def log_exit(logger: logging.Logger, name: str | None, returncode: int) -> None:
    shown = display_name(name)
    if returncode == 0:
        logger.info("Process%s exited cleanly.", shown)
        return
    message = f"Process{shown} exited with status code: {returncode}"
    hint = _EXIT_HINTS.get(returncode)
    if hint is None and returncode < 0:
        hint = f"This indicates that the process exited due to a {signal_name(-returncode)} signal."
    logger.error(f"{message}; {hint}" if hint else message)


def direct_output_fds() -> tuple[int, int] | None:
    """Our stdout and stderr file descriptors, flushed, when both have one (the
    child then writes to them directly); None when either is a Python object
    without one and the output must be copied over."""
    fds = []
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None
        fds.append(fd)
    sys.stdout.flush()
    sys.stderr.flush()
    return fds[0], fds[1]


# --- runs named by their id (kill, attach; any process) -------------------------------------------


class NamedRun(NamedTuple):
    """A live run, verified from its id."""

    identifier: str
    pid: int
    start_ticks: int
    scope: containment.Scope
    leader_alive: bool
    entry: RunEntry


def resolve(infrastructure_pid: str, action: str = "reach") -> NamedRun:
    """The run an id names, checked: same host, a pid in range, the very
    process that was started (its start time), and a launchbay run (its
    registry file). Anything else raises, and nothing has been signalled."""
    parsed = pids.parse_process_pid(infrastructure_pid)
    local = pids.this_host()
    if parsed.host != local:
        raise InfrastructureNotAvailable(
            f"Unable to {action} process {infrastructure_pid!r}: it runs on host {parsed.host!r}, "
            f"and this is {local!r}."
        )

    def not_found(why: str) -> InfrastructureNotFound:
        return InfrastructureNotFound(f"Process {infrastructure_pid!r} was not found: {why}.")

    if parsed.pid in (os.getpid(), os.getpgrp(), os.getsid(0)):
        raise not_found("that is launchbay itself")
    stat = procfs.read_stat(parsed.pid)
    uids = {os.getuid()}
    owner = _owner(parsed.pid)
    if owner is not None:
        uids.add(owner)
    candidates = [entry for uid in uids for entry in entries_for(parsed.pid, uid)]
    if parsed.start_ticks is not None:
        candidates = [entry for entry in candidates if entry.start_ticks == parsed.start_ticks]
    # The live process is the run's leader only if it started when the run did:
    # otherwise the kernel has given its pid to a newcomer.
    leader = next(
        (entry for entry in candidates if stat is not None and stat.start_ticks == entry.start_ticks), None
    )
    if leader is None and stat is not None and stat.running:
        raise not_found("that process is not a launchbay run")
    entry = leader or next(iter(candidates), None)
    if entry is None:
        raise not_found("no such run is running")
    scope = containment.scope_for(entry.containment, entry.cgroup, entry.token, entry.pid, entry.start_ticks)
    alive = leader is not None and stat is not None and stat.running
    if not alive and not scope.members():
        raise not_found("the run has ended")
    return NamedRun(infrastructure_pid, parsed.pid, entry.start_ticks, scope, alive, entry)


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@contextlib.contextmanager
def _kill_errors(infrastructure_pid: str) -> Any:
    try:
        yield
    except PermissionError:
        raise InfrastructureNotAvailable(
            f"Unable to kill process {infrastructure_pid!r}: permission denied."
        ) from None
    except OSError as exc:
        raise InfrastructureError(
            f"Unable to kill process {infrastructure_pid!r}: {exc.strerror or exc}."
        ) from None


def _kill_result(named: NamedRun, infrastructure_pid: str, gone: bool) -> None:
    if not gone:
        remaining = named.scope.members()
        if remaining:
            raise InfrastructureError(
                f"Process {infrastructure_pid!r} was signalled but {len(remaining)} of its "
                f"processes remain (pids {', '.join(map(str, remaining[:10]))})."
            )


def kill_blocking(infrastructure_pid: str, grace_seconds: float) -> None:
    """Stop the run an id names: SIGTERM to its whole tree, SIGKILL to what is
    left after ``grace_seconds``. Returns only when nothing of it remains."""
    named = resolve(infrastructure_pid, "kill")
    note_stopping(named.entry, time.time() + grace_seconds)
    with _kill_errors(infrastructure_pid):
        gone = drive_blocking(stop_steps(named.scope, signal.SIGTERM, grace_seconds))
    _kill_result(named, infrastructure_pid, gone)


async def kill(infrastructure_pid: str, grace_seconds: float) -> None:
    named = resolve(infrastructure_pid, "kill")
    note_stopping(named.entry, time.time() + grace_seconds)
    with _kill_errors(infrastructure_pid):
        gone = await drive_async(stop_steps(named.scope, signal.SIGTERM, grace_seconds))
    _kill_result(named, infrastructure_pid, gone)


async def wait_for_end(named: NamedRun) -> None:
    """Until nothing of a run started elsewhere remains."""
    import anyio

    delay = _FIRST_POLL_SECONDS
    while named.scope.has_members() or (
        (stat := procfs.read_stat(named.pid)) is not None
        and stat.running
        and stat.start_ticks == named.start_ticks
    ):
        await anyio.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_SECONDS)
