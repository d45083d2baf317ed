"""A detached process run's own supervisor (``launchbay run -d``, SPEC 14).

``launch`` (called by the launcher) starts this module as a small process of
its own session, detached from the terminal, and hands it the run on stdin.
The supervisor then:

1. writes the run's record (status ``running``, itself as the supervisor);
2. becomes the child subreaper, so orphans of the run are re-parented to it;
3. starts the run in its containment scope (``runner.run_blocking``), its
   stdout and stderr into one pipe that a relay copies to the run's log
   (``records.logs``: owner-only, bounded);
4. tells the launcher "started" with the run id and infrastructure pid, over
   a pipe the launcher waits on, and lets go of the launcher's stderr;
5. waits for the run (forwarding SIGTERM, SIGINT, SIGHUP and SIGQUIT to the
   tree, then killing it after the grace; enforcing the timeout) and records
   its end: status code, exit reason, reason.

The launcher may then exit or be killed: the run does not depend on it. If
this supervisor itself is killed, its watchdog stops the run (no orphans) and
the record, without an end, shows ``lost``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from launchbay._internal.exits import CANCEL_GRACE_SECONDS, ExitReason
from launchbay._internal.process import containment, procfs, registry, runner
from launchbay._internal.process.signalwait import wait_with_signals
from launchbay._internal.process.spec import ProcessSpec
from launchbay._internal.signals import STOPPING, SignalPolicy, signals_to_pipe
from launchbay.exceptions import InfrastructureError, LaunchbayError

logger = logging.getLogger("launchbay.runs.detached")

# How long the launcher waits for the supervisor to start the run.
START_TIMEOUT_SECONDS = 60.0
# How long output still in flight is relayed once nothing of the tree runs
# (a process outside the tree could hold the pipe open forever).
_RELAY_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class DetachedRequest:
    """What the launcher hands the supervisor (as JSON, on its stdin)."""

    run_id: str
    command: tuple[str, ...]
    overrides: tuple[tuple[str, str | None], ...]
    working_dir: str | None
    stream_output: bool
    name: str | None
    log: str
    timeout_seconds: float | None = None
    grace_seconds: float = CANCEL_GRACE_SECONDS
    labels: Mapping[str, str] = field(default_factory=dict)
    block: str | None = None
    database_url: str | None = None  # None: the store the environment names

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            command=self.command,
            overrides=self.overrides,
            working_dir=self.working_dir,
            stream_output=self.stream_output,
            name=self.name,
            timeout_seconds=self.timeout_seconds,
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = dict(self.labels)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> DetachedRequest:
        data = json.loads(text)
        data["command"] = tuple(data["command"])
        data["overrides"] = tuple((key, value) for key, value in data["overrides"])
        return cls(**data)


@dataclass(frozen=True)
class Started:
    """The launcher's answer: the run is running."""

    run_id: str
    infrastructure_pid: str
    supervisor_pid: int


# --- the launcher's side ---------------------------------------------------------------------


def launch(request: DetachedRequest) -> Started:
    """Start the supervisor, hand it the run, and return once the run has
    started. Errors before that (a name in use, a command not found) are
    raised here with the CLI's exit codes."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    # The directory holding the launchbay package, for source trees that are
    # on sys.path only through the current directory.
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    code = (
        f"import sys; sys.path.append({package_parent!r}); "
        "from launchbay._internal.process.detached import main; main()"
    )
    try:
        popen = subprocess.Popen(
            [sys.executable, "-c", code, str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=None,  # its start-up errors reach the user; it lets go of it once started
            pass_fds=(write_end,),
            start_new_session=True,  # not in the terminal's session: the launcher's end is not its end
            close_fds=True,
            cwd="/",
        )
    except OSError as exc:
        os.close(read_end)
        raise InfrastructureError(
            f"Cannot start the supervisor of a detached run: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(write_end)
    try:
        assert popen.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            popen.stdin.write(request.to_json().encode())
            popen.stdin.close()
        answer = _read_answer(read_end, popen)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)  # never started: nothing of it may stay
        raise
    finally:
        os.close(read_end)
    if "error" in answer:
        raise _error_from(answer)
    # The supervisor outlives us: it is not waited for (when we exit it goes to
    # init; a long-lived caller reaps it with its next Popen).
    return Started(str(answer["id"]), str(answer["infrastructure_pid"]), popen.pid)


def _read_answer(fd: int, popen: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise InfrastructureError(
                f"The supervisor of the detached run did not start it within {START_TIMEOUT_SECONDS:g} s."
            )
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"\n"):
            break
    if not data:
        code = popen.wait()
        raise InfrastructureError(
            f"The supervisor of the detached run exited before the run started (status {code})."
        )
    answer: dict[str, Any] = json.loads(data)
    return answer


def _error_from(answer: Mapping[str, Any]) -> InfrastructureError:
    code = answer.get("exit_code")
    return InfrastructureError(str(answer.get("error")), exit_code=code if isinstance(code, int) else 125)


# --- the supervisor process ------------------------------------------------------------------


class _Answer:
    """The pipe to the launcher: one JSON line, once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def send(self, **message: Any) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):  # the launcher may be gone: the run goes on
            os.write(self._fd, (json.dumps(message) + "\n").encode())
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def _let_go_of_terminal() -> None:
    """Our stdin and stderr become /dev/null: nothing of the launcher's
    terminal (or pipes) is held once the run has started."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 2):
        os.dup2(null, fd)
    os.close(null)


class _Relay:
    """Copies the run's output pipe to its log, on one thread (this process
    supervises one run)."""

    def __init__(self, read_end: int, log: Any) -> None:
        self._fd = read_end
        self._log = log
        self._thread = threading.Thread(target=self._copy, name="launchbay-log", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        try:
            while data := os.read(self._fd, 1 << 16):
                self._log.write(data)
        except OSError as exc:
            logger.warning("The run's output could not be copied to its log: %s", exc)

    def finish(self) -> None:
        """Once the tree is gone: what is left in the pipe, then the end."""
        self._thread.join(_RELAY_DRAIN_SECONDS)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._log.close()


def _stopped_by_someone(pid: int) -> bool:
    """Whether ``launchbay kill`` (from any process) is stopping the run."""
    return any(registry.REGISTRY.stopping_deadline(entry) is not None for entry in registry.entries_for(pid))


def _reap_orphans(leader: int) -> None:
    """Orphans of the run that ended are our zombies now: reap them (never the
    leader, whose exit status Popen needs)."""
    for pid in procfs.own_children() - {leader}:
        stat = procfs.read_stat(pid)
        if stat is not None and not stat.running:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def _waiter(request: DetachedRequest, signals: int) -> runner.Waiter:
    """The wait of ``run_blocking``: the shared signal loop (``signalwait``),
    reaping the run's orphans meanwhile; a run ``launchbay kill`` stopped
    ended as cancelled."""

    def wait(
        popen: subprocess.Popen[bytes], scope: containment.Scope, mark: Callable[[ExitReason], None]
    ) -> int:
        policy = SignalPolicy(request.grace_seconds)
        code = wait_with_signals(
            popen,
            scope,
            signals,
            policy,
            request.timeout_seconds,
            mark,
            every_second=lambda: _reap_orphans(popen.pid),
        )
        if _stopped_by_someone(popen.pid):
            mark(ExitReason.CANCELLED)
        return code

    return wait


def supervise(request: DetachedRequest, answer: _Answer) -> int:
    """The whole life of a detached run; returns this process's exit status."""
    from launchbay._internal.records import recorder
    from launchbay._internal.records.logs import CappedLog, remove_log
    from launchbay._internal.records.store import open_record_store

    containment.become_subreaper()
    runner.SUPERVISOR.claims_orphans = True
    try:
        store = open_record_store(request.database_url)
        recording = recorder.begin(
            "process",
            command=request.command,
            name=request.name,
            labels=request.labels,
            block=request.block,
            cli=True,
            detached=True,
            log=request.log if request.stream_output else None,
            run_id=request.run_id,
            store=store,
            required=True,
        )
        assert recording is not None
    except LaunchbayError as exc:
        answer.send(error=str(exc), exit_code=getattr(exc, "exit_code", 125))
        return 1
    output_fds: tuple[int, int] | None = None
    relay: _Relay | None = None
    ours: list[int] = []  # our copy of the pipe's write end, until the tree has its own
    if request.stream_output:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        relay = _Relay(read_end, CappedLog(Path(request.log)))
        output_fds = (write_end, write_end)
        ours.append(write_end)

    def let_go_of_pipe() -> None:
        # Once only the tree holds the write end, the pipe's end is the tree's end.
        while ours:
            os.close(ours.pop())

    def on_started(identifier: str) -> None:
        let_go_of_pipe()
        recording.started(identifier)
        answer.send(id=request.run_id, infrastructure_pid=identifier)
        _let_go_of_terminal()

    with signals_to_pipe(STOPPING) as signals:
        try:
            outcome = runner.run_blocking(
                request.spec(),
                logger=logger,
                output_fds=output_fds,
                on_started=on_started,
                waiter=_waiter(request, signals),
            )
        except BaseException as exc:
            let_go_of_pipe()
            if relay is not None:
                relay.finish()
            if recording.record.infrastructure_pid is None:  # it never started
                recording.abandon()
                remove_log(request.log)
                message = str(exc) if isinstance(exc, LaunchbayError) else f"{type(exc).__name__}: {exc}"
                answer.send(error=message, exit_code=getattr(exc, "exit_code", 125))
                return 1
            recording.end(-1, ExitReason.UNKNOWN, f"the supervisor failed: {exc}")
            raise
    if relay is not None:
        relay.finish()
    recording.end(outcome.status_code, outcome.exit_reason, outcome.reason)
    return 0


def main() -> None:
    for signum in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)  # no terminal to stop us
    answer = _Answer(int(sys.argv[1]))
    try:
        request = DetachedRequest.from_json(sys.stdin.read())
    except (ValueError, TypeError, KeyError) as exc:
        answer.send(error=f"the detached run's request is not valid: {exc}", exit_code=125)
        sys.exit(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the run reads nothing
    os.close(null)
    sys.exit(supervise(request, answer))


def request_for(
    spec: ProcessSpec,
    *,
    run_id: str,
    home: Path,
    grace_seconds: float,
    labels: Mapping[str, str],
    block: str | None,
) -> DetachedRequest:
    """The request for a run of ``spec``, its log in ``home``."""
    from launchbay._internal.records.logs import log_path

    return DetachedRequest(
        run_id=run_id,
        command=spec.command,
        overrides=spec.overrides,
        working_dir=spec.working_dir,
        stream_output=spec.stream_output,
        name=spec.name,
        log=str(log_path(home, run_id)),
        timeout_seconds=spec.timeout_seconds,
        grace_seconds=grace_seconds,
        labels=dict(labels),
        block=block,
    )
