"""The CLI's foreground runs and the signals it receives meanwhile.

Every blocking ``launchbay run`` goes through here, so SPEC 13's signal policy
(``launchbay._internal.signals``) is applied the same way on both paths:

- ``run_process`` — the fast path: a plain local process, no event loop. The
  signals are caught by no-op handlers whose numbers ``signal.set_wakeup_fd``
  writes to a pipe; ``process.signalwait`` (shared with a detached run's
  supervisor) polls the process (its pidfd), the pipe and the deadlines.
- ``run_infrastructure`` — the full path, any kind, on the event loop: the
  signals arrive through anyio's signal receiver. The first one becomes the
  run's stop request (the same signal, ``--grace``) and cancels the run, whose
  runner stops its work; a second escalates the request to an immediate kill.

Either way launchbay exits 128+N after a signal N, and never before the run's
tree is gone.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from launchbay._internal.exits import CANCEL_GRACE_SECONDS, ExitReason
from launchbay._internal.limits import raise_open_file_limit
from launchbay._internal.signals import HANDLED, Action, SignalPolicy, signals_to_pipe
from launchbay.cli import console

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from launchbay._internal.process.containment import Scope
    from launchbay._internal.process.runner import RunOutcome
    from launchbay._internal.process.spec import ProcessSpec
    from launchbay.infrastructure.base import Infrastructure, InfrastructureResult


class Interrupted(Exception):
    """The run was stopped because launchbay received a signal."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def check_grace(value: float | None) -> float:
    if value is None:
        return CANCEL_GRACE_SECONDS
    if not math.isfinite(value) or value < 0:
        from launchbay.exceptions import LaunchbayError

        raise LaunchbayError(f"--grace must be a number of seconds, 0 or more, not {value:g}")
    return value


def _announce(signum: int, action: Action, grace: float) -> None:
    name = signal.Signals(signum).name
    if action is Action.FORWARD:
        console.warning(
            f"received {name}; stopping the run (killed in {grace:g} s; signal again to kill it now)"
        )
    elif action is Action.KILL:
        console.warning(f"received {name} again; killing the run now")


# --- the fast path: no event loop ----------------------------------------------------------


def run_process(
    spec: ProcessSpec,
    *,
    quiet: bool,
    grace_seconds: float,
    output_fds: tuple[int, int] | None,
    on_start: Callable[[str], None] | None = None,
) -> tuple[RunOutcome, int | None]:
    """A local process run in the foreground without an event loop. Returns
    its outcome and, when a signal stopped it, launchbay's exit code."""
    from launchbay._internal.loggers import PROCESS, logger_for
    from launchbay._internal.process import runner, workdir
    from launchbay._internal.process.signalwait import wait_with_signals

    runner.SUPERVISOR.claims_orphans = True
    workdir.REMOVER.in_background = False  # one run, then exit (which would wait for it)
    raise_open_file_limit()
    policy = SignalPolicy(grace_seconds)

    def on_started(identifier: str) -> None:
        if on_start is not None:
            on_start(identifier)
        if not quiet:
            console.info(f"started {identifier}")

    def announce(signum: int, action: Action) -> None:
        _announce(signum, action, grace_seconds)

    with signals_to_pipe() as signals:

        def wait(popen: subprocess.Popen[bytes], scope: Scope, mark: Callable[[ExitReason], None]) -> int:
            return wait_with_signals(
                popen, scope, signals, policy, spec.timeout_seconds, mark, announce=announce
            )

        outcome = runner.run_blocking(
            spec,
            logger=logger_for(PROCESS.rsplit(".", 1)[1]),
            output_fds=output_fds,
            on_started=on_started,
            waiter=wait,
        )
    return outcome, policy.exit_code


# --- the full path: any kind, on the event loop --------------------------------------------------


def _single_cause(exc: BaseException) -> BaseException:
    """The one real error inside (nested) exception groups from the task group."""
    if sys.version_info >= (3, 11):
        group_type: type = BaseExceptionGroup  # noqa: F821 - builtin on 3.11+
    else:  # pragma: no cover
        from exceptiongroup import BaseExceptionGroup as group_type  # type: ignore[import-not-found]
    while isinstance(exc, group_type) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def run_infrastructure(
    infrastructure: Infrastructure, *, quiet: bool, grace_seconds: float, block: str | None = None
) -> InfrastructureResult:
    """Run any kind in the foreground; raises Interrupted(128+N) when a
    signal N stopped it (after its work is gone)."""
    import anyio

    from launchbay._internal.process.runner import ACTIVE_SCOPES, SUPERVISOR
    from launchbay._internal.process.signalwait import resume, suspend_self
    from launchbay._internal.stopping import STOP_REQUEST, StopRequest
    from launchbay.infrastructure.base import RECORD_AS

    SUPERVISOR.claims_orphans = True
    raise_open_file_limit()
    policy = SignalPolicy(grace_seconds)
    request = StopRequest(grace_seconds=grace_seconds)
    outcome: dict[str, Any] = {}

    async def main() -> None:
        STOP_REQUEST.set(request)
        RECORD_AS.set((True, block))
        run_scope = anyio.CancelScope()
        async with anyio.create_task_group() as task_group:

            async def run_it(*, task_status: TaskStatus[str]) -> None:
                with run_scope:
                    outcome["result"] = await infrastructure.arun(task_status=task_status)
                task_group.cancel_scope.cancel()  # the signal watcher is done too

            async def watch_signals() -> None:
                with anyio.open_signal_receiver(*HANDLED) as received:
                    async for signum in received:
                        action = policy.on_signal(signum)
                        _announce(signum, action, grace_seconds)
                        if action is Action.FORWARD:
                            request.signum = signum
                            run_scope.cancel()
                        elif action is Action.KILL:
                            request.escalate()
                        elif action is Action.SUSPEND:
                            suspend_self(list(ACTIVE_SCOPES))
                        else:
                            resume(list(ACTIVE_SCOPES))

            if sys.platform != "win32":
                task_group.start_soon(watch_signals)
            try:
                pid = await task_group.start(run_it)
            except RuntimeError:
                if policy.first is None:
                    raise
                return  # stopped by a signal before it had started
            if not quiet:
                console.info(f"started {pid}")

    try:
        anyio.run(main)
    except BaseException as exc:
        raise _single_cause(exc) from None
    if policy.exit_code is not None:
        raise Interrupted(policy.exit_code)
    result: InfrastructureResult = outcome["result"]
    return result
