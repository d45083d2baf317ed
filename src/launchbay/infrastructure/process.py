"""``Process``: run the command as a local process."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar, Literal

import anyio
from anyio.abc import TaskStatus
from pydantic import Field

from launchbay._internal import output, processes
from launchbay.exceptions import (
    InfrastructureError,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
)
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult

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


class ProcessResult(InfrastructureResult):
    """The result of a ``Process`` run."""


class Process(Infrastructure):
    """Run a command in a new local process (never through a shell)."""

    _block_type_name: ClassVar[str] = "Process"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/infrastructure/process"

    type: Literal["process"] = Field(default="process", description="The kind of infrastructure.")
    stream_output: bool = Field(
        default=True, description="Relay the process's stdout and stderr to ours."
    )
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

    def _environment(self) -> dict[str, str]:
        env: dict[str, str | None] = {**os.environ, **self._launchbay_environment()}
        return {key: value for key, value in env.items() if value is not None}

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
        return f" {self.name!r}" if self.name else ""

    async def _run(self, task_status: TaskStatus[str]) -> ProcessResult:
        assert self.command
        with ExitStack() as stack:
            if self.working_dir is None:
                cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="launchbay-"))
            else:
                cwd = str(Path(self.working_dir).expanduser())
            relay = stack.enter_context(output.OutputRelay(self.stream_output))
            self.logger.info("Opening process%s...", self._display_name)
            popen = self._spawn(cwd, relay)
            identifier = f"{socket.gethostname()}:{popen.pid}"
            task_status.started(identifier)
            returncode = await self._monitor(popen, relay)
        self._log_exit(returncode)
        return ProcessResult(
            identifier=identifier, status_code=returncode, reason=_exit_reason(returncode)
        )

    def _spawn(self, cwd: str, relay: output.OutputRelay) -> subprocess.Popen[bytes]:
        assert self.command
        processes.raise_open_file_limit()
        kwargs: dict[str, object] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            # Its own session: the whole tree can be signalled as one group, and
            # the terminal's Ctrl+C reaches launchbay, which decides what to do.
            kwargs["start_new_session"] = True
        try:
            return subprocess.Popen(  # noqa: S603 - a list, never a shell
                self.command,
                cwd=cwd,
                env=self._environment(),
                stdout=relay.stdout_target,
                stderr=relay.stderr_target,
                close_fds=True,
                **kwargs,  # type: ignore[arg-type]
            )
        except FileNotFoundError as exc:
            if not Path(cwd).is_dir():
                raise InfrastructureError(f"Working directory {cwd!r} does not exist.") from None
            raise InfrastructureError(
                f"Command not found: {self.command[0]!r} ({exc.strerror}).", exit_code=127
            ) from None
        except PermissionError as exc:
            raise InfrastructureError(
                f"Cannot execute {self.command[0]!r}: {exc.strerror}.", exit_code=126
            ) from None
        except OSError as exc:
            raise InfrastructureError(
                f"Cannot start {self.command[0]!r}: {exc.strerror or exc}."
            ) from None

    async def _monitor(self, popen: subprocess.Popen[bytes], relay: output.OutputRelay) -> int:
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

    def _log_exit(self, returncode: int) -> None:
        if returncode == 0:
            self.logger.info("Process%s exited cleanly.", self._display_name)
            return
        message = f"Process{self._display_name} exited with status code: {returncode}"
        hint = _EXIT_HINTS.get(returncode)
        if hint is None and returncode < 0:
            hint = f"This indicates that the process exited due to a {_signal_name(-returncode)} signal."
        self.logger.error("%s; %s" % (message, hint) if hint else message)

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
        host, pid = self._parse_pid(infrastructure_pid)
        local = socket.gethostname()
        if host != local:
            raise InfrastructureNotAvailable(
                f"Unable to reach process {infrastructure_pid!r}: it runs on host {host!r}, "
                f"and this is {local!r}."
            )
        return pid

    async def _kill(self, infrastructure_pid: str, grace_seconds: int) -> None:
        pid = self._check_reachable(infrastructure_pid)
        try:
            await processes.terminate_group(pid, grace_seconds)
        except ProcessLookupError:
            raise InfrastructureNotFound(
                f"Unable to kill process {infrastructure_pid!r}: the process was not found."
            ) from None
        except PermissionError:
            raise InfrastructureNotAvailable(
                f"Unable to kill process {infrastructure_pid!r}: permission denied."
            ) from None

    async def _attach(
        self, infrastructure_pid: str, task_status: TaskStatus[str]
    ) -> ProcessResult:
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


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _exit_reason(returncode: int) -> str | None:
    if returncode < 0:
        return _signal_name(-returncode)
    if returncode == 247:
        return "terminated due to high memory usage"
    return None
