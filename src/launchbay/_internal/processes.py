"""Starting, waiting for and signalling local process trees without a thread
per process.

A run's process is started as the leader of its own session, so its id is also
its process group id: signalling the group reaches every descendant that did not
leave it, which is how launchbay leaves no orphans.

Each wait comes twice: ``async`` for the event loop (many runs, one thread) and
``*_blocking`` for sync callers with one run to watch, who need no event loop
at all. anyio is imported only by the async ones.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from launchbay.exceptions import InfrastructureError

# Liveness polls start fast (a process that exits on SIGTERM is seen within
# milliseconds) and back off to at most once a second.
_FIRST_POLL_SECONDS = 0.002
_MAX_POLL_SECONDS = 1.0

# How long a cancelled run (Ctrl+C, task group cancel) lets its process tree exit
# on SIGTERM before it is killed.
CANCEL_GRACE_SECONDS = 10.0

_WINDOWS_CTRL_C_STATUS = 0xC000013A

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


# --- environment, start and end ---------------------------------------------------


def environment(*layers: Mapping[str, str | None]) -> dict[str, str] | None:
    """Our environment overridden by each layer in turn; ``None`` removes a
    variable. None when the layers are empty: the child inherits ours as is
    (Popen's ``env=None``, which spares copying and encoding it)."""
    if not any(layers):
        return None
    merged: dict[str, str | None] = dict(os.environ)
    for layer in layers:
        merged.update(layer)
    return {key: value for key, value in merged.items() if value is not None}


def display_name(name: str | None) -> str:
    return f" {name!r}" if name else ""


def spawn(
    command: list[str], cwd: str, env: dict[str, str] | None, stdout: int, stderr: int
) -> subprocess.Popen[bytes]:
    """Start ``command`` (a list, never a shell) as the leader of a new session;
    failures become InfrastructureErrors with the CLI's exit codes."""
    raise_open_file_limit()
    kwargs: dict[str, object] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        # Its own session: the whole tree can be signalled as one group, and
        # the terminal's Ctrl+C reaches launchbay, which decides what to do.
        kwargs["start_new_session"] = True
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            close_fds=True,
            **kwargs,  # type: ignore[arg-type]
        )
    except FileNotFoundError as exc:
        if not Path(cwd).is_dir():
            raise InfrastructureError(f"Working directory {cwd!r} does not exist.") from None
        raise InfrastructureError(
            f"Command not found: {command[0]!r} ({exc.strerror}).", exit_code=127
        ) from None
    except PermissionError as exc:
        raise InfrastructureError(f"Cannot execute {command[0]!r}: {exc.strerror}.", exit_code=126) from None
    except OSError as exc:
        raise InfrastructureError(f"Cannot start {command[0]!r}: {exc.strerror or exc}.") from None


def identifier_of(popen: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{popen.pid}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_reason(returncode: int) -> str | None:
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


def working_directory(stack: ExitStack, working_dir: str | Path | None) -> str:
    """The run's directory: the one asked for, or a fresh temporary one that
    ``stack`` removes."""
    if working_dir is None:
        import tempfile

        path = tempfile.mkdtemp(prefix="launchbay-")
        stack.callback(_REMOVER.remove, path)
        return path
    return str(Path(working_dir).expanduser())


class _DirectoryRemover:
    """Removes finished runs' temporary directories on one background thread.

    Removing a directory can take milliseconds on a busy disk (ext4 frees its
    block through the journal), which would hold up every run's result and,
    on the event loop, every other run. The directory is renamed out of the way
    at once (its path is gone when the run returns) and deleted by this thread;
    what is pending at interpreter exit is finished then.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._queue: Any = None
        self._owner = -1  # the pid whose thread serves the queue (a fork needs its own)

    def remove(self, path: str) -> None:
        parent, name = os.path.split(path)
        hidden = os.path.join(parent, f".{name}.removing")
        try:
            os.rename(path, hidden)
        except FileNotFoundError:
            return
        except OSError:
            _remove_directory(path)  # cannot rename here: remove in place
            return
        self._submit(hidden)

    def _submit(self, path: str) -> None:
        with self._lock:
            if self._owner != os.getpid():
                import atexit
                import queue
                import threading

                self._queue = queue.SimpleQueue()
                self._owner = os.getpid()
                threading.Thread(
                    target=self._serve, args=(self._queue,), name="launchbay-cleanup", daemon=True
                ).start()
                atexit.register(self._finish, self._queue)
            self._queue.put(path)

    @staticmethod
    def _serve(paths: Any) -> None:
        while True:
            path = paths.get()
            if isinstance(path, str):
                _remove_directory(path)
            else:
                path.set()  # an Event: everything before it is done

    def _finish(self, paths: Any) -> None:
        """At exit: let the pending removals finish (within reason)."""
        import threading

        if self._owner != os.getpid():
            return
        done = threading.Event()
        paths.put(done)
        done.wait(10)


_REMOVER = _DirectoryRemover()


def _remove_directory(path: str) -> None:
    try:
        os.rmdir(path)  # the usual case: the run left nothing behind
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        def make_writable_and_retry(function: Callable[..., object], name: str, _: object) -> None:
            try:
                os.chmod(os.path.dirname(name), 0o700)
                if os.path.isdir(name) and not os.path.islink(name):
                    os.chmod(name, 0o700)
                function(name)
            except OSError:
                pass  # a leftover in the temporary directory beats a failed run

        shutil.rmtree(path, onerror=make_writable_and_retry)


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


def run_blocking(
    command: list[str],
    *,
    env: dict[str, str] | None,
    working_dir: str | Path | None,
    output_fds: tuple[int, int] | None,
    name: str | None,
    logger: logging.Logger,
    on_started: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """A whole run without an event loop: start, report the pid, wait, log the
    end. ``output_fds`` are where the child writes (``direct_output_fds()``),
    None to discard its output. Returns (infrastructure pid, returncode).

    Interrupted while waiting (Ctrl+C, an exception from ``on_started`` or a
    signal handler), it stops the whole tree before re-raising, like a
    cancelled async run.
    """
    stdout, stderr = output_fds if output_fds is not None else (subprocess.DEVNULL,) * 2
    with ExitStack() as stack:
        cwd = working_directory(stack, working_dir)
        logger.info("Opening process%s...", display_name(name))
        popen = spawn(command, cwd, env, stdout, stderr)
        try:
            identifier = identifier_of(popen)
            if on_started is not None:
                on_started(identifier)
            returncode = popen.wait()
        except BaseException:
            stop_after_cancel_blocking(popen, logger, name)
            raise
    log_exit(logger, name, returncode)
    return identifier, returncode


def stop_after_cancel_blocking(
    popen: subprocess.Popen[bytes], logger: logging.Logger, name: str | None
) -> None:
    """A run was abandoned while its tree may still run: leave no orphans."""
    if popen.poll() is None or group_alive(popen.pid):
        logger.warning("Run cancelled: stopping process%s (pid %s)", display_name(name), popen.pid)
        try:
            terminate_group_blocking(popen.pid, CANCEL_GRACE_SECONDS)
        except ProcessLookupError:
            pass
    popen.wait()


# --- limits ------------------------------------------------------------------------------

_limit_raised = False


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one (once per process): each
    concurrent run holds a pidfd (and pipes when relaying), and 1024 runs out
    quickly."""
    global _limit_raised
    if _limit_raised:
        return
    _limit_raised = True
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


# --- waiting ----------------------------------------------------------------------------


async def wait_for_exit(popen: subprocess.Popen[bytes]) -> int:
    """Wait for a child to exit and reap it; returns Popen's returncode
    (negative signal number when killed by a signal).

    On Linux the event loop watches a pidfd, so any number of children are
    waited on by the loop's one thread.
    """
    import anyio

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


def _poll_cap(timeout: float | None) -> float:
    return _MAX_POLL_SECONDS if timeout is None else min(_MAX_POLL_SECONDS, max(timeout / 10, 0.01))


# The waits below are written once, as generators that yield how long to sleep
# before looking again; the async and blocking entry points only differ in how
# they sleep (``_drive_async`` / ``_drive_blocking``).

Steps = Generator[float, None, Any]


def _group_exit_steps(pgid: int, timeout: float | None) -> Generator[float, None, bool]:
    """Until no member of the group runs (True), or ``timeout`` passed (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay, cap = _FIRST_POLL_SECONDS, _poll_cap(timeout)
    while group_alive(pgid):
        if deadline is None:
            yield delay
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            yield min(delay, remaining)
        delay = min(delay * 2, cap)
    return True


def _terminate_steps(pgid: int, grace_seconds: float) -> Generator[float, None, None]:
    """SIGTERM the group, then SIGKILL whatever still runs after the grace period.
    Raises ProcessLookupError if there is nothing to signal."""
    if sys.platform == "win32":
        os.kill(pgid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        if not (yield from _group_exit_steps(pgid, grace_seconds)):
            os.kill(pgid, signal.SIGTERM)  # TerminateProcess on Windows
        return
    if not group_alive(pgid):
        raise ProcessLookupError(pgid)
    _signal_group(pgid, signal.SIGTERM)
    if (yield from _group_exit_steps(pgid, grace_seconds)):
        return
    try:
        _signal_group(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    yield from _group_exit_steps(pgid, 5)


async def _drive_async(steps: Steps) -> Any:
    import anyio

    try:
        while True:
            await anyio.sleep(next(steps))
    except StopIteration as done:
        return done.value


def _drive_blocking(steps: Steps) -> Any:
    try:
        while True:
            time.sleep(next(steps))
    except StopIteration as done:
        return done.value


async def wait_for_group_exit(pgid: int, timeout: float | None = None) -> bool:
    """Wait until no member of the group runs; False if ``timeout`` passed first."""
    return bool(await _drive_async(_group_exit_steps(pgid, timeout)))


def wait_for_group_exit_blocking(pgid: int, timeout: float | None = None) -> bool:
    """``wait_for_group_exit`` for sync callers."""
    return bool(_drive_blocking(_group_exit_steps(pgid, timeout)))


async def terminate_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM the group, then SIGKILL whatever still runs after the grace period.

    Raises ProcessLookupError if there is nothing to signal.
    """
    await _drive_async(_terminate_steps(pgid, grace_seconds))


def terminate_group_blocking(pgid: int, grace_seconds: float) -> None:
    """``terminate_group`` for sync callers (no event loop)."""
    _drive_blocking(_terminate_steps(pgid, grace_seconds))


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
