"""Recording a run as it starts and ends: the small interface the run paths
call (the CLI's fast and full paths, and ``Infrastructure.arun``).

    recording = begin("process", name=..., command=..., labels=..., cli=True)
    ...start the run...; recording.started(infrastructure_pid)
    ...the run ends...;  recording.end(status_code, exit_reason, reason)

``begin`` returns None when recording is off (``LAUNCHBAY_RECORD_RUNS``: on
for the CLI, off for the API by default). The record is written before the
run starts, so that a name another record holds refuses the run
(``RunNameInUse``) before anything is created. Each write is one short
transaction on one connection kept for the run.

On an event loop (``Infrastructure.arun``) no write is made on the loop's
thread: ``begin`` leaves the record to ``recorded``, which has it written by
the store's writer thread (``writer``) before the run starts, and awaits the
end's write before it returns; the pid, which ``TaskStatus.started`` cannot
wait for, is handed to the same thread ahead of the end. Sync callers write
in their own thread, as before.

A store that cannot be written does not stop the run: the failure is logged
once (a warning) and the run goes on unrecorded. Light to import: the stdlib
and sqlite3 only (psycopg when the store is PostgreSQL).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from launchbay._internal.environ import environ_bytes
from launchbay._internal.exits import ExitReason
from launchbay._internal.records import supervisors
from launchbay._internal.records.model import RunRecord, RunStatus, new_id
from launchbay._internal.records.store import RecordStore, open_record_store
from launchbay._internal.records.writer import StoreWriter, Write, writer_for
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
        raw = _setting_in_another_case()
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


_SETTING_BYTES = RECORD_RUNS_ENV.encode()


def _setting_in_another_case() -> str | None:
    """``LAUNCHBAY_RECORD_RUNS`` spelled in another case (the settings' names
    match in any case). Asked for each API run: the keys are looked at as
    they are kept (``environ_bytes``), by their length first."""
    raw = os.environ.get(RECORD_RUNS_ENV.lower())
    if raw is not None:
        return raw
    data = environ_bytes()
    if data is None:  # kept otherwise: its public face
        return next((os.environ[key] for key in os.environ if key.upper() == RECORD_RUNS_ENV), None)
    size = len(_SETTING_BYTES)
    for key in data:
        if len(key) == size and key.upper() == _SETTING_BYTES:
            return os.environ.get(os.fsdecode(key))
    return None


class Recording:
    """One run's record, being written. Begun on an event loop, its record
    is written by ``recorded`` (``written``) and every write goes through the
    store's writer thread, in order; begun elsewhere, each write is made in
    the caller's thread (or, once on a loop, the writer's)."""

    def __init__(self, store: RecordStore, record: RunRecord, *, written: bool = True) -> None:
        self.store = store
        self.record = record
        self._done = False
        self._written = written  # the record is in the store
        self._writer: StoreWriter | None = None if written else writer_for(store)

    @property
    def run_id(self) -> str:
        return self.record.id

    # --- off the loop (recorded) ---------------------------------------------------------------

    async def written(self) -> bool:
        """The record is in the store, written by the writer thread if ``begin``
        left it (``RunNameInUse`` when its name is taken); False when the
        store cannot be written (logged: the run goes on unrecorded). From
        now on the writes go through the writer thread."""
        if self._writer is None:
            self._writer = writer_for(self.store)
        if self._written:
            return not self._done
        try:
            await self._writer.call(functools.partial(self.store.insert, self.record))
        except StoreError as exc:
            _unrecorded(exc)
            self._done = True
            return False
        self._written = True
        return True

    async def end_async(
        self, status_code: int, exit_reason: ExitReason | str | None, reason: str | None
    ) -> None:
        if not self._done and self._writer is not None:
            await self._writer.call(functools.partial(self._write_end, status_code, exit_reason, reason))
        self._done = True

    async def abandon_async(self) -> None:
        if not self._done and self._writer is not None:
            await self._writer.call(self._write_abandon)
        self._done = True

    async def hand_over_async(self) -> None:
        if self._done or self.record.infrastructure_pid is None:
            return
        self.started(self.record.infrastructure_pid, engine_holds=True)
        if self._writer is not None:
            await self._writer.call(_nothing)  # (in order: once the pid's write is made)
        self._done = True

    # --- in the caller's thread ------------------------------------------------------------------

    def started(self, infrastructure_pid: str, *, engine_holds: bool = False) -> None:
        """The run has started: its infrastructure pid. ``engine_holds``: from
        now on its engine holds it alone (a detached Docker or Kubernetes run).
        Through the writer thread, this does not wait for the write (it is made
        before any later write of the run's)."""
        if self._done:
            return
        changes: dict[str, Any] = {"infrastructure_pid": infrastructure_pid}
        if engine_holds:
            changes["supervisor"] = None
        write = functools.partial(self._write_started, infrastructure_pid, engine_holds)
        if self._writer is not None and self._written:
            self.record = _replace(self.record, **changes)
            self._writer.submit(Write(write))
            return
        if not self._write_record_here():
            return
        write()
        if not self._done:
            self.record = _replace(self.record, **changes)

    def end(self, status_code: int, exit_reason: ExitReason | str | None, reason: str | None) -> None:
        """The run has ended: how."""
        if self._done or not self._write_record_here():
            return
        self._here(functools.partial(self._write_end, status_code, exit_reason, reason))
        self._done = True

    def hand_over(self) -> None:
        """The watch gave up but the run goes on: from now on its engine holds
        it (the record stays running, for ``attach``, ``wait`` and ``kill``)."""
        if self._done or self.record.infrastructure_pid is None:
            return
        self.started(self.record.infrastructure_pid, engine_holds=True)
        if self._writer is not None:
            self._writer.call_blocking(_nothing)
        self._done = True

    def abandon(self) -> None:
        """The run never started (it failed before): no record is kept."""
        if not self._done and self._written:
            self._here(self._write_abandon)
        self._done = True

    # --- the writes (in whichever thread makes them) --------------------------------------------

    def _write_started(self, infrastructure_pid: str, engine_holds: bool) -> None:
        try:
            self.store.set_started(self.record.id, infrastructure_pid, engine_holds=engine_holds)
        except StoreError as exc:
            _unrecorded(exc)
            self._done = True

    def _write_end(self, status_code: int, exit_reason: ExitReason | str | None, reason: str | None) -> None:
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

    def _write_abandon(self) -> None:
        try:
            self.store.delete([self.record.id])
        except StoreError as exc:
            _unrecorded(exc)

    def _here(self, write: Callable[[], None]) -> None:
        """``write`` from a sync caller: at once, or after the run's earlier
        writes when they go through the writer thread."""
        if self._writer is None:
            write()
        else:
            self._writer.call_blocking(write)

    def _write_record_here(self) -> bool:
        """A recording begun on a loop but used by a sync caller (not through
        ``recorded``): its record is written first. False: not recorded."""
        if self._written:
            return True
        try:
            self._here(functools.partial(self.store.insert, self.record))
        except StoreError as exc:
            _unrecorded(exc)
            self._done = True
            return False
        self._written = True
        return True


def _nothing() -> None:
    """A write that writes nothing: awaited, it tells that the writes queued
    before it are made."""


def _replace(record: RunRecord, **changes: Any) -> RunRecord:
    return record._replace(**changes)


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
        if not required and _on_event_loop():
            return Recording(store, record, written=False)  # ``recorded`` writes it, off the loop
        store.insert(record)
    except StoreError as exc:
        if required:
            raise
        _unrecorded(exc)
        return None
    return Recording(store, record)


def _on_event_loop() -> bool:
    """Whether this thread runs an event loop (asyncio's or trio's), which
    a write to the store must not hold up. Cheap: asked for each run."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        return True
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


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
            self._recording.started(value)  # handed to the writer thread, ahead of the end
        self.reported = True
        self._inner.started(value)  # type: ignore[arg-type]


async def recorded(
    recording: Recording | None,
    run: Callable[[TaskStatus[str]], Awaitable[ResultT]],
    task_status: TaskStatus[str],
) -> ResultT:
    """``await run(task_status)`` with ``recording`` (from ``begin``) kept up to
    date: the record before the run starts, the pid when it starts, the
    result's end (or a cancelled end) before this returns -- all written by
    the store's writer thread, not on the loop."""
    if recording is None or not await recording.written():
        return await run(task_status)
    status = _RecordingStatus(recording, task_status)
    try:
        result = await run(status)
    except BaseException as exc:
        if not status.reported:
            await recording.abandon_async()
        else:
            await recording.end_async(-1, ExitReason.CANCELLED, f"the run was stopped: {type(exc).__name__}")
        raise
    if result.still_running:
        await recording.hand_over_async()
    else:
        await recording.end_async(result.status_code, result.exit_reason, result.reason)
    return result


def recorded_blocking(
    recording: Recording | None,
    run: Callable[[Callable[[str], None] | None], ResultT],
) -> ResultT:
    """``recorded`` for a sync caller with no event loop (``Process.run()``
    from sync code): ``run(on_started)`` is the whole run, and each write is
    made in this thread, where nothing else waits on it."""
    if recording is None:
        return run(None)
    started = False

    def on_started(infrastructure_pid: str) -> None:
        nonlocal started
        started = True
        recording.started(infrastructure_pid)

    try:
        result = run(on_started)
    except BaseException as exc:
        if not started:
            recording.abandon()
        else:
            recording.end(-1, ExitReason.CANCELLED, f"the run was stopped: {type(exc).__name__}")
        raise
    if result.still_running:
        recording.hand_over()
    else:
        recording.end(result.status_code, result.exit_reason, result.reason)
    return result
