"""``Process``: run the command as a local process."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from launchbay._internal import output
from launchbay._internal.exits import CANCEL_GRACE_SECONDS  # noqa: F401 - re-exported
from launchbay._internal.process import runner
from launchbay._internal.process.spec import ProcessSpec, build_spec
from launchbay._internal.urls import redact_text
from launchbay.engine import FLOW_ENTRYPOINT_ENV
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskStatus


def _entrypoint_resolved(env: dict[str, str | None]) -> dict[str, str | None]:
    """A flow entrypoint's relative file (``flows.py:add``) made absolute against
    the caller's directory: the run starts in a directory of its own."""
    entrypoint = env.get(FLOW_ENTRYPOINT_ENV)
    if not entrypoint:
        return env
    path, colon, function = entrypoint.rpartition(":")
    if not colon or not path.endswith(".py") or os.path.isabs(path):
        return env
    return {**env, FLOW_ENTRYPOINT_ENV: f"{os.path.abspath(path)}:{function}"}


class ProcessResult(InfrastructureResult):
    """The result of a ``Process`` run."""


class Process(Infrastructure):
    """Run a command in a new local process (never through a shell).

    Every descendant belongs to the run (SPEC 13): kill, cancel and a timeout
    stop the whole tree, and what is left of it when the command ends is
    stopped too.
    """

    _block_type_name: ClassVar[str] = "Process"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/infrastructure/process"

    type: Literal["process"] = Field(default="process", description="The kind of infrastructure.")
    stream_output: bool = Field(default=True, description="Relay the process's stdout and stderr to ours.")
    working_dir: str | Path | None = Field(
        default=None,
        description="Directory to run in; a fresh temporary directory (removed afterwards) if unset.",
    )

    @classmethod
    def _base_flow_run_command(cls) -> list[str]:
        return [sys.executable, "-m", "launchbay.engine"]

    def _spec(self) -> ProcessSpec:
        return build_spec(
            self.command,
            base_environment=self._base_environment(),
            env=_entrypoint_resolved(self.env),
            working_dir=self.working_dir,
            stream_output=self.stream_output,
            name=self.name,
            timeout_seconds=self.timeout_seconds,
        )

    def preview(self) -> str:
        # Credentials (a password in LAUNCHBAY_DATABASE_URL, in any variable) are masked.
        return redact_text(self._spec().preview())

    # --- running --------------------------------------------------------------

    def _can_run_without_loop(self) -> bool:
        # Only when the output goes straight to our file descriptors (or
        # nowhere); otherwise the run goes through the loop, which copies it.
        return not self.stream_output or runner.direct_output_fds() is not None

    def _run_without_loop(self, on_started: Callable[[str], None] | None) -> ProcessResult:
        """A sync caller's run, with no event loop: start, wait, done."""
        fds = runner.direct_output_fds() if self.stream_output else None
        if self.stream_output and fds is None:
            raise RuntimeError("the output must be copied: run through the event loop")
        outcome = runner.run_blocking(self._spec(), logger=self.logger, output_fds=fds, on_started=on_started)
        return self._result(outcome)

    async def _run(self, task_status: TaskStatus[str]) -> ProcessResult:
        with output.OutputRelay(self.stream_output) as relay:
            outcome = await runner.run(self._spec(), task_status, self.logger, relay)
        return self._result(outcome)

    @staticmethod
    def _result(outcome: runner.RunOutcome) -> ProcessResult:
        return ProcessResult(
            identifier=outcome.identifier,
            status_code=outcome.status_code,
            reason=outcome.reason,
            exit_reason=outcome.exit_reason,
        )

    # --- kill and attach ----------------------------------------------------------

    def _kill_without_loop(self, infrastructure_pid: str, grace_seconds: float) -> None:
        """A sync caller's kill: the same signals and polls, with plain sleeps."""
        runner.kill_blocking(infrastructure_pid, grace_seconds)

    async def _kill(self, infrastructure_pid: str, grace_seconds: float) -> None:
        await runner.kill(infrastructure_pid, grace_seconds)

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> ProcessResult:
        """Wait for a process run started elsewhere. Its output went to its
        launcher and its exit code to its parent, so the status code is -1."""
        named = runner.resolve(infrastructure_pid, "attach")
        task_status.started(named.identifier)
        await runner.wait_for_end(named)
        self.logger.info("Process%s (pid %s) has ended.", self._spec().display_name, named.pid)
        return ProcessResult(
            identifier=named.identifier,
            status_code=-1,
            reason="exit code unavailable: the process was started by another launcher",
        )

    if TYPE_CHECKING:  # the faces, with this kind's result type

        def run(self, task_status: TaskStatus[str] | None = None) -> ProcessResult: ...

        async def arun(self, task_status: TaskStatus[str] | None = None) -> ProcessResult: ...

        def attach(
            self, infrastructure_pid: str, task_status: TaskStatus[str] | None = None
        ) -> ProcessResult: ...

        async def aattach(
            self, infrastructure_pid: str, task_status: TaskStatus[str] | None = None
        ) -> ProcessResult: ...
