"""``Process``: run the command as a local process."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from launchbay._internal import output, processes
from launchbay._internal.processes import CANCEL_GRACE_SECONDS
from launchbay.exceptions import InfrastructureNotAvailable, InfrastructureNotFound
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult

if TYPE_CHECKING:
    from anyio.abc import TaskStatus


class ProcessResult(InfrastructureResult):
    """The result of a ``Process`` run."""


class Process(Infrastructure):
    """Run a command in a new local process (never through a shell)."""

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

    # --- environment and preview ---------------------------------------------

    def _launchbay_environment(self) -> dict[str, str | None]:
        """What launchbay sets on top of the inherited environment."""
        return {**self._base_environment(), **self.env}

    def _environment(self) -> dict[str, str] | None:
        return processes.environment(self._base_environment(), self.env)

    def preview(self) -> str:
        lines = [
            f"{key}={shlex.quote(value)} \\"
            for key, value in self._launchbay_environment().items()
            if value is not None
        ]
        lines.append(shlex.join(self.command or []))
        return "\n".join(lines)

    # --- running --------------------------------------------------------------

    @property
    def _display_name(self) -> str:
        return processes.display_name(self.name)

    def _run_without_loop(self) -> ProcessResult | None:
        """A sync caller's run, with no event loop: start, wait, done. Only when
        the output goes straight to our file descriptors (or nowhere);
        otherwise None, and the run goes through the loop, which copies it."""
        assert self.command
        fds = None
        if self.stream_output:
            fds = processes.direct_output_fds()
            if fds is None:
                return None
        identifier, returncode = processes.run_blocking(
            self.command,
            env=self._environment(),
            working_dir=self.working_dir,
            output_fds=fds,
            name=self.name,
            logger=self.logger,
        )
        return self._result(identifier, returncode)

    async def _run(self, task_status: TaskStatus[str]) -> ProcessResult:
        assert self.command
        with ExitStack() as stack:
            cwd = processes.working_directory(stack, self.working_dir)
            relay = stack.enter_context(output.OutputRelay(self.stream_output))
            self.logger.info("Opening process%s...", self._display_name)
            popen = processes.spawn(
                self.command, cwd, self._environment(), relay.stdout_target, relay.stderr_target
            )
            identifier = processes.identifier_of(popen)
            task_status.started(identifier)
            returncode = await self._monitor(popen, relay)
        processes.log_exit(self.logger, self.name, returncode)
        return self._result(identifier, returncode)

    @staticmethod
    def _result(identifier: str, returncode: int) -> ProcessResult:
        return ProcessResult(
            identifier=identifier, status_code=returncode, reason=processes.exit_reason(returncode)
        )

    async def _monitor(self, popen: subprocess.Popen[bytes], relay: output.OutputRelay) -> int:
        import anyio

        try:
            async with anyio.create_task_group() as tg:
                relay.start(tg, popen)
                returncode = await processes.wait_for_exit(popen)
                await relay.drain_after_exit()
            return returncode
        except BaseException:
            # Cancelled (Ctrl+C, an enclosing scope) or failed while the tree may
            # still run: leave no orphans behind.
            with anyio.CancelScope(shield=True):
                if popen.poll() is None or processes.group_alive(popen.pid):
                    self.logger.warning(
                        "Run cancelled: stopping process%s (pid %s)", self._display_name, popen.pid
                    )
                    await processes.terminate_group(popen.pid, CANCEL_GRACE_SECONDS)
                popen.wait()
            raise

    # --- kill and attach ----------------------------------------------------------

    @staticmethod
    def _parse_pid(infrastructure_pid: str) -> tuple[str, int]:
        host, _, pid = infrastructure_pid.rpartition(":")
        if not host or not pid.isdigit():
            raise ValueError(
                f"Invalid process infrastructure pid {infrastructure_pid!r}: expected HOSTNAME:PID."
            )
        return host, int(pid)

    def _check_reachable(self, infrastructure_pid: str) -> int:
        import socket

        host, pid = self._parse_pid(infrastructure_pid)
        local = socket.gethostname()
        if host != local:
            raise InfrastructureNotAvailable(
                f"Unable to reach process {infrastructure_pid!r}: it runs on host {host!r}, "
                f"and this is {local!r}."
            )
        return pid

    def _kill_without_loop(self, infrastructure_pid: str, grace_seconds: int) -> None:
        """A sync caller's kill: the same signals and polls, with plain sleeps."""
        pid = self._check_reachable(infrastructure_pid)
        with self._kill_errors(infrastructure_pid):
            processes.terminate_group_blocking(pid, grace_seconds)

    async def _kill(self, infrastructure_pid: str, grace_seconds: int) -> None:
        pid = self._check_reachable(infrastructure_pid)
        with self._kill_errors(infrastructure_pid):
            await processes.terminate_group(pid, grace_seconds)

    @staticmethod
    @contextmanager
    def _kill_errors(infrastructure_pid: str) -> Iterator[None]:
        try:
            yield
        except ProcessLookupError:
            raise InfrastructureNotFound(
                f"Unable to kill process {infrastructure_pid!r}: the process was not found."
            ) from None
        except PermissionError:
            raise InfrastructureNotAvailable(
                f"Unable to kill process {infrastructure_pid!r}: permission denied."
            ) from None

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> ProcessResult:
        """Wait for a process started elsewhere. Its output went to its launcher
        and its exit code to its parent, so the status code is -1 (unknown)."""
        pid = self._check_reachable(infrastructure_pid)
        if not processes.group_alive(pid):
            raise InfrastructureNotFound(f"Process {infrastructure_pid!r} was not found.")
        task_status.started(infrastructure_pid)
        await processes.wait_for_group_exit(pid)
        self.logger.info("Process%s (pid %s) has ended.", self._display_name, pid)
        return ProcessResult(
            identifier=infrastructure_pid,
            status_code=-1,
            reason="exit code unavailable: the process was started by another launcher",
        )
