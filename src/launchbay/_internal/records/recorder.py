"""Recording a run as it starts and ends: the small interface the run paths
call (the CLI's fast and full paths, and ``Infrastructure.arun``).

    recording = begin("process", name=..., command=..., labels=..., cli=True)
    ...start the run...; recording.started(infrastructure_pid)
    ...the run ends...;  recording.end(status_code, exit_reason, reason)

``begin`` returns None when recording is off (``LAUNCHBAY_RECORD_RUNS``: on
for the CLI, off for the API by default). It writes the record before the run
starts, so that a name another record holds refuses the run
(``RunNameInUse``) before anything is created. Each call is one short
transaction on one connection kept for the run.

A store that cannot be written does not stop the run: the failure is logged
once (a warning) and the run goes on unrecorded. Light to import: the stdlib
and sqlite3 only (psycopg when the store is PostgreSQL).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from launchbay._internal.exits import ExitReason
from launchbay._internal.records import supervisors
from launchbay._internal.records.model import RunRecord, RunStatus, new_id
from launchbay._internal.records.store import RecordStore, open_record_store
from launchbay.exceptions import StoreError

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

RECORD_RUNS_ENV = "LAUNCHBAY_RECORD_RUNS"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

logger = logging.getLogger("launchbay.runs")


def recording_enabled(cli: bool) -> bool:
    """Whether runs are recorded: ``LAUNCHBAY_RECORD_RUNS`` (``1/true/yes``
    or ``0/false/no``, any case) if set, else on for the CLI and off for the
    API (see docs/runs.md for why and what it costs)."""
    raw = os.environ.get(RECORD_RUNS_ENV)
    if raw is None:
        for key, value in os.environ.items():  # the settings' names match in any case
            if key.upper() == RECORD_RUNS_ENV:
                raw = value
                break
    if raw is None:
        return cli
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    logger.warning(
        "%s=%r is neither on (1, true, yes) nor off (0, false, no): runs are not recorded.",
        RECORD_RUNS_ENV,
        raw,
    )
    return False


class Recording:
    """One run's record, being written."""

    def __init__(self, store: RecordStore, record: RunRecord) -> None:
        self.store = store
        self.record = record
        self._done = False

    @property
    def run_id(self) -> str:
        return self.record.id

    def started(self, infrastructure_pid: str, *, engine_holds: bool = False) -> None:
        """The run has started: its infrastructure pid. ``engine_holds``: from
        now on its engine holds it alone (a detached Docker or Kubernetes run)."""
        if self._done:
            return
        try:
            self.store.set_started(self.record.id, infrastructure_pid, engine_holds=engine_holds)
        except StoreError as exc:
            _unrecorded(exc)
            self._close()
            return
        changes: dict[str, Any] = {"infrastructure_pid": infrastructure_pid}
        if engine_holds:
            changes["supervisor"] = None
        self.record = _replace(self.record, **changes)

    def end(self, status_code: int, exit_reason: ExitReason | str | None, reason: str | None) -> None:
        """The run has ended: how."""
        if self._done:
            return
        try:
            self.store.set_end(
                self.record.id,
                status=RunStatus.EXITED,
                status_code=status_code,
                exit_reason=None if exit_reason is None else str(exit_reason),
                reason=reason,
            )
        except StoreError as exc:
            _unrecorded(exc)
        finally:
            self._close()

    def hand_over(self) -> None:
        """The watch gave up but the run goes on: from now on its engine holds
        it (the record stays running, for ``attach``, ``wait`` and ``kill``)."""
        if self._done or self.record.infrastructure_pid is None:
            return
        self.started(self.record.infrastructure_pid, engine_holds=True)
        self._close()

    def abandon(self) -> None:
        """The run never started (it failed before): no record is kept."""
        if self._done:
            return
        try:
            self.store.delete([self.record.id])
        except StoreError as exc:
            _unrecorded(exc)
        finally:
            self._close()

    def _close(self) -> None:
        # The store stays open for the process's next runs (see shared_store).
        self._done = True


def _replace(record: RunRecord, **changes: Any) -> RunRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)


_warned = False


def _unrecorded(exc: StoreError) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("The run is not recorded: %s", exc)


def begin(
    kind: str,
    *,
    command: Sequence[str],
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    block: str | None = None,
    cli: bool,
    supervisor: str | None = None,
    detached: bool = False,
    log: str | None = None,
    run_id: str | None = None,
    store: RecordStore | None = None,
    required: bool = False,
) -> Recording | None:
    """Write a run's record before it starts (None when recording is off or
    the store cannot be written). ``RunNameInUse`` when another record holds
    ``name``: refuse the run. ``supervisor`` defaults to this process.

    A run that cannot do without its record (a detached one) passes
    ``required=True`` (and its ``store``): a store failure then raises."""
    if not recording_enabled(cli) and store is None:
        return None
    record = RunRecord(
        id=run_id or new_id(),
        kind=kind,
        command=tuple(command),
        created=datetime.fromtimestamp(time.time(), timezone.utc),
        name=name or None,
        labels=dict(labels or {}),
        block=block,
        supervisor=supervisors.current() if supervisor is None else supervisor,
        detached=detached,
        log=log,
    )
    try:
        store = store or shared_store()
        store.insert(record)
    except StoreError as exc:
        if required:
            raise
        _unrecorded(exc)
        return None
    return Recording(store, record)


_shared: dict[tuple[int, str], RecordStore] = {}
_shared_lock = threading.Lock()


def shared_store() -> RecordStore:
    """This process's store of the records it writes, kept open: a process
    that records many runs (the API) pays the connection once, and SQLite
    keeps its write-ahead log between them instead of creating, syncing and
    removing it for each run. Keyed by the store the settings name now (and
    the process: a forked child opens its own)."""
    store = open_record_store()
    key = (os.getpid(), store.url)
    with _shared_lock:
        return _shared.setdefault(key, store)


class _Outcome(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def exit_reason(self) -> Any: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def still_running(self) -> bool: ...


ResultT = TypeVar("ResultT", bound=_Outcome)


class _RecordingStatus:
    """A task status that records the infrastructure pid, then passes it on."""

    def __init__(self, recording: Recording, inner: TaskStatus[str]) -> None:
        self._recording = recording
        self._inner = inner
        self.reported = False

    def started(self, value: str | None = None) -> None:
        if value is not None:
            self._recording.started(value)
        self.reported = True
        self._inner.started(value)  # type: ignore[arg-type]


async def recorded(
    recording: Recording | None,
    run: Callable[[TaskStatus[str]], Awaitable[ResultT]],
    task_status: TaskStatus[str],
) -> ResultT:
    """``await run(task_status)`` with ``recording`` (from ``begin``) kept up to
    date: the pid when it starts, the result's end, or a cancelled end."""
    if recording is None:
        return await run(task_status)
    status = _RecordingStatus(recording, task_status)
    try:
        result = await run(status)
    except BaseException as exc:
        if not status.reported:
            recording.abandon()
        else:
            recording.end(-1, ExitReason.CANCELLED, f"the run was stopped: {type(exc).__name__}")
        raise
    if result.still_running:
        recording.hand_over()
    else:
        recording.end(result.status_code, result.exit_reason, result.reason)
    return result
