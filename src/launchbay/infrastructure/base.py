"""``Infrastructure``: the contract every kind of run target follows."""

from __future__ import annotations

import json
import logging
import math
from abc import abstractmethod
from contextvars import ContextVar
from datetime import timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, model_validator

from launchbay._internal import pids
from launchbay._internal.asyncutils import sync_compatible
from launchbay._internal.exits import ExitReason
from launchbay._internal.timestamps import utc_z
from launchbay.blocks.core import Block
from launchbay.engine import FLOW_ENTRYPOINT_ENV, FLOW_PARAMETERS_ENV, FLOW_RUN_ID_ENV
from launchbay.models import Deployment, Flow, FlowRun
from launchbay.settings import base_environment

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskStatus

InfraT = TypeVar("InfraT", bound="Infrastructure")

LABEL_PREFIX = "launchbay.io/"

# Whether runs started in this context are recorded as the CLI's (on by
# default) or as the API's (LAUNCHBAY_RECORD_RUNS), and the saved block they
# came from: the CLI sets it around its runs.
RECORD_AS: ContextVar[tuple[bool, str | None]] = ContextVar("launchbay_record_as", default=(False, None))


class InfrastructureResult(BaseModel):
    """What a finished run reports. Truthy exactly when ``status_code == 0``."""

    identifier: str = Field(description="The infrastructure pid the run was reported under.")
    status_code: int = Field(description="Exit code of the work; -1 when unknown.")
    reason: str | None = Field(
        default=None,
        description="Why the work ended when that is known and not a plain exit "
        "(a signal, OOMKilled, a pull failure, a timeout).",
    )
    exit_reason: ExitReason = Field(
        default=ExitReason.UNKNOWN,
        description="Why the work ended, for scripts: exited, signaled, oom_killed, timed_out, ...",
    )
    still_running: bool = Field(
        default=False,
        description="The watch gave up before the work ended (a Kubernetes job or pod watch "
        "timeout): it runs on in its engine, and `attach` or `kill` can still reach it.",
    )

    @model_validator(mode="after")
    def _exit_reason_from_status(self) -> InfrastructureResult:
        # A result built without one: a known exit code means the work exited.
        if "exit_reason" not in self.model_fields_set and self.status_code >= 0:
            self.exit_reason = ExitReason.EXITED
        return self

    def __bool__(self) -> bool:
        return self.status_code == 0


class Infrastructure(Block):
    """Base class of the places a command can run."""

    _block_schema_capabilities: ClassVar[list[str]] = ["run-infrastructure"]

    type: str = Field(description="The kind of infrastructure.")
    env: dict[str, str | None] = Field(
        default_factory=dict,
        title="Environment",
        description="Environment variables; a null value removes an inherited variable.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Metadata labels.")
    name: str | None = Field(default=None, description="Name given to the infrastructure.")
    command: list[str] | None = Field(default=None, description="The command to run.")
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Stop the run once it has run this long (a process tree: SIGTERM, then "
        "SIGKILL after the grace; a container: stop; a Job: activeDeadlineSeconds and deletion); "
        "its result then says timed_out.",
    )

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"launchbay.infrastructure.{self.type}")

    # --- the contract -----------------------------------------------------
    #
    # Each operation is written once, as the async face (``arun``, ``akill``,
    # ``aattach``: typed for async callers). ``run``, ``kill`` and ``attach``
    # are the same coroutines made sync-compatible: awaited in async code,
    # plain calls from sync code (type checkers see their sync face).

    async def arun(self, task_status: TaskStatus[str] | None = None) -> InfrastructureResult:
        """Create the infrastructure, report its pid through ``task_status``,
        monitor it to the end and return the result."""
        if not self.command or not self.command[0]:
            raise ValueError(f"{type(self).__name__} cannot be run with empty command.")
        if task_status is None:
            from anyio import TASK_STATUS_IGNORED

            task_status = TASK_STATUS_IGNORED
        from launchbay._internal.records import recorder

        as_cli, block = RECORD_AS.get()
        recording = recorder.begin(
            self.type, command=self.command, name=self.name, labels=self.labels, block=block, cli=as_cli
        )
        return await recorder.recorded(recording, self._run, task_status)

    async def akill(self, infrastructure_pid: str, grace_seconds: float = 30) -> None:
        """Stop work started by ``run`` (possibly by another process)."""
        await self._kill(infrastructure_pid, check_grace(grace_seconds))

    async def aattach(
        self, infrastructure_pid: str, task_status: TaskStatus[str] | None = None
    ) -> InfrastructureResult:
        """Resume monitoring (and output streaming) of work started elsewhere."""
        if task_status is None:
            from anyio import TASK_STATUS_IGNORED

            task_status = TASK_STATUS_IGNORED
        return await self._attach(infrastructure_pid, task_status)

    if TYPE_CHECKING:  # the sync face, as type checkers see it

        def run(self, task_status: TaskStatus[str] | None = None) -> InfrastructureResult: ...

        def kill(self, infrastructure_pid: str, grace_seconds: float = 30) -> None: ...

        def attach(
            self, infrastructure_pid: str, task_status: TaskStatus[str] | None = None
        ) -> InfrastructureResult: ...

    else:
        run = sync_compatible(arun, blocking="_run_blocking")
        kill = sync_compatible(akill, blocking="_kill_blocking")
        attach = sync_compatible(aattach)

    # Sync callers skip the event loop where a kind can do the same work
    # without one (see sync_compatible); None/NotImplemented declines.

    def _run_blocking(self, task_status: TaskStatus[str] | None = None) -> Any:
        if task_status is not None or not self._can_run_without_loop():
            return NotImplemented
        if not self.command or not self.command[0]:
            raise ValueError(f"{type(self).__name__} cannot be run with empty command.")
        from launchbay._internal.records import recorder

        as_cli, block = RECORD_AS.get()
        recording = recorder.begin(
            self.type, command=self.command, name=self.name, labels=self.labels, block=block, cli=as_cli
        )
        return recorder.recorded_blocking(recording, self._run_without_loop)

    def _kill_blocking(self, infrastructure_pid: str, grace_seconds: float = 30) -> Any:
        return self._kill_without_loop(infrastructure_pid, check_grace(grace_seconds))

    def _can_run_without_loop(self) -> bool:
        """Whether ``_run_without_loop`` can make this run (a kind that needs
        no event loop for it, in the circumstances)."""
        return False

    def _run_without_loop(self, on_started: Callable[[str], None] | None) -> InfrastructureResult:
        """The whole run for a sync caller without an event loop;
        ``on_started`` hears its pid."""
        raise NotImplementedError

    def _kill_without_loop(self, infrastructure_pid: str, grace_seconds: float) -> Any:
        """The kill for a sync caller without an event loop, or NotImplemented."""
        return NotImplemented

    @abstractmethod
    def preview(self) -> str:
        """Exactly what would be created, without creating anything."""

    @abstractmethod
    async def _run(self, task_status: TaskStatus[str]) -> InfrastructureResult: ...

    @abstractmethod
    async def _kill(self, infrastructure_pid: str, grace_seconds: float) -> None: ...

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> InfrastructureResult:
        raise NotImplementedError(f"{type(self).__name__} does not support attach")

    # --- flow runs ----------------------------------------------------------

    @staticmethod
    def _base_environment() -> dict[str, str]:
        """The settings the user set, passed on to every launched run."""
        return base_environment()  # == get_current_settings().to_environment_variables(exclude_unset=True)

    @classmethod
    def _base_flow_run_command(cls) -> list[str]:
        return ["python", "-m", "launchbay.engine"]

    @staticmethod
    def _base_flow_run_environment(flow_run: FlowRun) -> dict[str, str]:
        env = {FLOW_RUN_ID_ENV: flow_run.id.hex}
        if flow_run.entrypoint:
            env[FLOW_ENTRYPOINT_ENV] = flow_run.entrypoint
        if flow_run.parameters:
            env[FLOW_PARAMETERS_ENV] = json.dumps(flow_run.parameters)
        return env

    @staticmethod
    def _base_flow_run_labels(flow_run: FlowRun) -> dict[str, str]:
        from launchbay import __version__

        return {
            f"{LABEL_PREFIX}flow-run-id": str(flow_run.id),
            f"{LABEL_PREFIX}flow-run-name": flow_run.name,
            f"{LABEL_PREFIX}version": __version__,
        }

    def prepare_for_flow_run(
        self: InfraT,
        flow_run: FlowRun,
        deployment: Deployment | None = None,
        flow: Flow | None = None,
    ) -> InfraT:
        """A copy set up to run ``flow_run``; the block's own values win."""
        labels = self._base_flow_run_labels(flow_run)
        if deployment is not None:
            labels[f"{LABEL_PREFIX}deployment-name"] = deployment.name
            if deployment.updated is not None:
                updated = deployment.updated
                if updated.tzinfo is None:
                    updated = updated.replace(tzinfo=timezone.utc)
                labels[f"{LABEL_PREFIX}deployment-updated"] = utc_z(updated)
        if flow is not None:
            labels[f"{LABEL_PREFIX}flow-name"] = flow.name
        update: dict[str, Any] = {
            "env": {**self._base_flow_run_environment(flow_run), **self.env},
            "labels": {**labels, **self.labels},
            "name": self.name or flow_run.name,
            "command": self.command or self._base_flow_run_command(),
        }
        return self.model_copy(update=update, deep=True)


def infrastructure_type_for_pid(infrastructure_pid: str) -> str:
    """Which kind of infrastructure a pid belongs to, from its shape: ``HOST:PID``
    (process), ``BASE_URL:CONTAINER_ID`` (Docker), ``CLUSTER_UID:NAMESPACE:JOB``
    (Kubernetes). ValueError when it is none of them."""
    return pids.kind_of_pid(infrastructure_pid)


class InvalidGrace(ValueError, TypeError):
    """A grace period that is not a number of seconds (both a ValueError and,
    for a value of the wrong type, what Python callers expect: a TypeError)."""


def check_grace(grace_seconds: object) -> float:
    """A grace period as seconds, refused before anything is signalled when it
    is not a non-negative number."""
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, (int, float)):
        raise InvalidGrace(f"grace_seconds must be a number of seconds, not {grace_seconds!r}")
    if math.isnan(grace_seconds) or grace_seconds < 0:
        raise InvalidGrace(f"grace_seconds must be 0 or more, not {grace_seconds!r}")
    return float(grace_seconds)
