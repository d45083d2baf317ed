"""A run's record (SPEC 14): what ran, where, who watches it and how it ended.

A named tuple and the stdlib only: records are written on the CLI's fast
path, which must not load pydantic (nor ``dataclasses``, whose ``inspect``
costs a start several milliseconds).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

from launchbay._internal.exits import ExitReason
from launchbay.exceptions import LaunchbayError

# How many characters of an id are shown (as Docker shows 12 of 64).
SHORT_ID_LENGTH = 12
ID_BYTES = 16  # 32 hex characters: random, so unique without coordination


class RunStatus(str, Enum):
    RUNNING = "running"
    EXITED = "exited"
    LOST = "lost"  # its supervisor died without recording the end

    def __str__(self) -> str:
        return self.value


class RunNotFound(LaunchbayError, LookupError):
    """No record matches the run id, name or infrastructure pid (CLI: exit 1)."""

    exit_code = 1


class AmbiguousRun(LaunchbayError, LookupError):
    """A reference (an id prefix) matches several records (CLI: exit 1)."""

    exit_code = 1


class RunNameInUse(LaunchbayError):
    """Another record holds the name (CLI: exit 125, as ``docker run`` exits
    on a name conflict)."""

    exit_code = 125


class RunStillRunning(LaunchbayError):
    """``rm`` of a run that has not ended, without ``force`` (CLI: exit 1)."""

    exit_code = 1


def new_id() -> str:
    return os.urandom(ID_BYTES).hex()


class RunRecord(NamedTuple):
    """One run. ``status`` is ``running`` until the end is recorded
    (``exited``) or its supervisor is found dead without one (``lost``)."""

    id: str
    kind: str  # "process", "docker-container" or "kubernetes-job"
    command: tuple[str, ...]
    created: datetime
    name: str | None = None
    infrastructure_pid: str | None = None
    labels: Mapping[str, str] = MappingProxyType({})
    block: str | None = None  # TYPE/NAME of the saved block it ran from
    status: RunStatus = RunStatus.RUNNING
    status_code: int | None = None
    exit_reason: ExitReason | None = None
    reason: str | None = None
    ended: datetime | None = None
    # Who watches the run: "HOST:PID@START" of a launchbay process; None when
    # its engine holds it alone (a detached Docker or Kubernetes run).
    supervisor: str | None = None
    detached: bool = False
    log: str | None = None  # the output's log file (a detached process run)

    def __hash__(self) -> int:
        # Every field but the labels (a mapping): equal records hash alike.
        return hash(self[:6] + self[7:])

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID_LENGTH]

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values (times as RFC 3339 UTC with a ``Z``)."""
        from launchbay._internal.timestamps import utc_z

        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "infrastructure_pid": self.infrastructure_pid,
            "command": list(self.command),
            "labels": dict(self.labels),
            "block": self.block,
            "status": self.status.value,
            "status_code": self.status_code,
            "exit_reason": None if self.exit_reason is None else self.exit_reason.value,
            "reason": self.reason,
            "created": utc_z(self.created),
            "ended": None if self.ended is None else utc_z(self.ended),
            "supervisor": self.supervisor,
            "detached": self.detached,
            "log": self.log,
        }

    # --- rows ------------------------------------------------------------------

    def to_row(self) -> tuple[Any, ...]:
        """The values of ``schema.RUN_COLUMNS``."""
        return (
            self.id,
            self.name,
            self.kind,
            self.infrastructure_pid,
            json.dumps(list(self.command)),
            json.dumps(dict(self.labels), sort_keys=True),
            self.block,
            self.status.value,
            self.status_code,
            None if self.exit_reason is None else self.exit_reason.value,
            self.reason,
            self.created.timestamp(),
            None if self.ended is None else self.ended.timestamp(),
            self.supervisor,
            int(self.detached),
            self.log,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> RunRecord:
        (
            id_,
            name,
            kind,
            infrastructure_pid,
            command,
            labels,
            block,
            status,
            status_code,
            exit_reason,
            reason,
            created,
            ended,
            supervisor,
            detached,
            log,
        ) = row
        # ``ps -a`` reads every row: the tuple is made at once, in field order,
        # without the keyword handling of ``RunRecord(...)``.
        return tuple.__new__(
            cls,
            (
                id_,
                kind,
                tuple(_json(command, [])),
                datetime.fromtimestamp(float(created), timezone.utc),
                name,
                infrastructure_pid,
                dict(_json(labels, {})),
                block,
                _STATUSES.get(status, RunStatus.LOST),  # written by a newer launchbay: shown, not fatal
                None if status_code is None else int(status_code),
                None if exit_reason is None else _EXIT_REASONS.get(exit_reason, ExitReason.UNKNOWN),
                reason,
                None if ended is None else datetime.fromtimestamp(float(ended), timezone.utc),
                supervisor,
                bool(detached),
                log,
            ),
        )


_STATUSES = {status.value: status for status in RunStatus}
_EXIT_REASONS = {reason.value: reason for reason in ExitReason}
# The C scanner json.loads ends in, called at once: for a short list its own
# checks and whitespace matching cost more than the parse.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, TypeError, ValueError):
        end = -1
    if end != len(text):  # not JSON alone: what json.loads makes of it (spaces around, or worse)
        try:
            value = json.loads(text)
        except ValueError:
            return default
    return value if isinstance(value, type(default)) else default
