"""Run records: see, follow and recover every run, without a server (SPEC 14).

Every run the CLI starts, and every API run when ``LAUNCHBAY_RECORD_RUNS`` is
on, has a record in the store (the blocks' database: SQLite by default,
PostgreSQL when ``LAUNCHBAY_DATABASE_URL`` names one)::

    from launchbay import runs

    for record in runs.list():          # running runs; all=True for every record
        print(record.short_id, record.name, record.status)
    record = runs.get("nightly")        # a run id, a unique prefix, a name or an infrastructure pid
    ended = runs.wait(record.id)        # sync-compatible: ``await runs.wait(...)`` in async code
    print(ended.status_code, ended.exit_reason)

Records are typed (``RunRecord``, an immutable named tuple). A record whose
supervisor died without recording the end is ``lost`` -- unless its engine
(Docker, Kubernetes) still knows how the run ended: then that is recorded.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchbay._internal.asyncutils import sync_compatible
from launchbay._internal.exits import ExitReason
from launchbay._internal.records import supervisors
from launchbay._internal.records.model import (
    AmbiguousRun,
    RunNameInUse,
    RunNotFound,
    RunRecord,
    RunStatus,
    RunStillRunning,
)
from launchbay._internal.records.store import RecordStore, open_record_store
from launchbay.exceptions import LaunchbayError

if TYPE_CHECKING:
    from launchbay._internal.records.engines import EngineView
    from launchbay.infrastructure.base import Infrastructure, InfrastructureResult

__all__ = [
    "AmbiguousRun",
    "RunNameInUse",
    "RunNotFound",
    "RunRecord",
    "RunStatus",
    "RunStillRunning",
    "attach",
    "attach_async",
    "get",
    "kill",
    "list",
    "logs",
    "logs_async",
    "prune",
    "remove",
    "wait",
    "wait_async",
]

logger = logging.getLogger("launchbay.runs")

PROCESS, DOCKER, KUBERNETES = "process", "docker-container", "kubernetes-job"
_ENGINE_KINDS = (DOCKER, KUBERNETES)
_MAX_POLL_SECONDS = 0.5


class NoLog(LaunchbayError):
    """The run kept no log: its output went to the terminal that ran it."""

    exit_code = 1


@contextlib.contextmanager
def _opened(store: RecordStore | None) -> Iterator[RecordStore]:
    if store is not None:
        yield store
        return
    opened = open_record_store()
    opened.keep_open = True  # several queries: one connection (PostgreSQL)
    try:
        yield opened
    finally:
        opened.close()


# --- the truth about runs whose supervisor is gone ------------------------------------------


def _needs_engine(record: RunRecord) -> bool:
    """An engine run nobody of ours watches (detached, or its supervisor died):
    only its engine knows whether it still runs."""
    if record.finished or record.kind not in _ENGINE_KINDS or not record.infrastructure_pid:
        return False
    return record.supervisor is None or supervisors.liveness(record.supervisor) is supervisors.Liveness.DEAD


def _lost_process(store: RecordStore, record: RunRecord) -> RunRecord:
    """A run whose supervisor died: ``lost``, unless it recorded its end meanwhile."""
    if record.finished or (record.kind in _ENGINE_KINDS and record.infrastructure_pid):
        return record  # an engine run that started: its engine may know more (_needs_engine)
    if supervisors.liveness(record.supervisor) is not supervisors.Liveness.DEAD:
        return record
    store.set_end(
        record.id,
        status=RunStatus.LOST,
        status_code=None,
        exit_reason=ExitReason.LOST.value,
        reason=f"its supervisor ({record.supervisor}) died without recording the end",
    )
    return store.get(record.id) or record


def _apply_view(store: RecordStore, record: RunRecord, view: EngineView) -> RunRecord:
    from launchbay._internal.records.engines import EngineState

    if view.state is EngineState.RUNNING:
        return record
    if view.state is EngineState.GONE:
        store.set_end(
            record.id,
            status=RunStatus.LOST,
            status_code=None,
            exit_reason=ExitReason.LOST.value,
            reason="its engine no longer knows it (removed or deleted) and its end was not recorded",
        )
    else:
        store.set_end(
            record.id,
            status=RunStatus.EXITED,
            status_code=view.status_code,
            exit_reason=None if view.exit_reason is None else view.exit_reason.value,
            reason=view.reason,
            ended=view.ended,
        )
    return store.get(record.id) or record


async def _engine_view(record: RunRecord) -> EngineView:
    from launchbay._internal.records import engines

    assert record.infrastructure_pid is not None
    if record.kind == DOCKER:
        return await engines.docker_view(record.infrastructure_pid)
    return await engines.kubernetes_view(record.infrastructure_pid, _cluster_inputs(record))


async def _refresh_all(store: RecordStore, records: builtins.list[RunRecord]) -> builtins.list[RunRecord]:
    """Each record as it truly stands: lost processes marked, engine runs
    nobody watches asked of their engine (concurrently)."""
    records = [_lost_process(store, record) for record in records]
    asking = [index for index, record in enumerate(records) if _needs_engine(record)]
    if not asking:
        return records
    import anyio

    views: dict[int, EngineView] = {}

    async def ask(index: int) -> None:
        try:
            views[index] = await _engine_view(records[index])
        except Exception as exc:
            logger.warning("Could not ask the engine about run %s: %s", records[index].short_id, exc)

    async with anyio.create_task_group() as group:
        for index in asking:
            group.start_soon(ask, index)
    for index, view in views.items():
        records[index] = _apply_view(store, records[index], view)
    return records


def _refreshed(store: RecordStore, records: builtins.list[RunRecord]) -> builtins.list[RunRecord]:
    if not any(_needs_engine(record) for record in records):
        return [_lost_process(store, record) for record in records]
    from launchbay._internal.asyncutils import run_sync

    return run_sync(_refresh_all, store, records)


# --- listing and reading -------------------------------------------------------------------


def list(  # the name SPEC 14 gives it (builtins.list is spelled out here)
    *,
    all: bool = False,  # as `ps -a`
    labels: Mapping[str, str] | None = None,
    store: RecordStore | None = None,
) -> builtins.list[RunRecord]:
    """The runs that are running (``all``: every record), newest first;
    ``labels``: only those that carry all of them."""
    with _opened(store) as opened:
        records = _refreshed(opened, opened.records(running_only=not all))
    if not all:
        records = [record for record in records if not record.finished]
    if labels:
        wanted = dict(labels)
        records = [r for r in records if all_labels(r.labels, wanted)]
    return records


def all_labels(have: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(have.get(key) == value for key, value in wanted.items())


def get(reference: str, *, store: RecordStore | None = None) -> RunRecord:
    """The record of a run id (or unique prefix), a name or an infrastructure
    pid, brought up to date. ``RunNotFound`` / ``AmbiguousRun`` otherwise."""
    with _opened(store) as opened:
        return _refreshed(opened, [opened.resolve(reference)])[0]


# --- waiting -----------------------------------------------------------------------------------


async def _until_ended(store: RecordStore, record: RunRecord, follow_output: bool) -> RunRecord:
    """Until the record has an end: the engine's attach for an engine run
    nobody watches, else the record (and its supervisor's life)."""
    delay = 0.01
    while True:
        record = (await _refresh_all(store, [record]))[0]
        if record.finished:
            return record
        if _needs_engine(record):
            return await _attach_engine(store, record, follow_output)
        await _supervisor_or_timeout(record.supervisor, delay)
        delay = min(delay * 2, _MAX_POLL_SECONDS)
        record = store.get(record.id) or record


async def _supervisor_or_timeout(supervisor: str | None, timeout: float) -> None:
    """Sleep ``timeout`` seconds, waking up at once if the supervisor exits."""
    import anyio

    parsed = supervisors.parse(supervisor) if supervisor else None
    pidfd = -1
    if parsed is not None and supervisors.liveness(supervisor) is supervisors.Liveness.ALIVE:
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(parsed[1])
    if pidfd < 0:
        await anyio.sleep(timeout)
        return
    try:
        with anyio.move_on_after(timeout):
            await anyio.wait_readable(pidfd)
    finally:
        os.close(pidfd)


async def _attach_engine(store: RecordStore, record: RunRecord, follow_output: bool) -> RunRecord:
    """Follow an engine run to its end through its kind's attach (its output
    too, with ``follow_output``), and record that end."""
    assert record.infrastructure_pid is not None
    infrastructure = infrastructure_for(record, stream_output=follow_output)
    result = await infrastructure.aattach(record.infrastructure_pid)
    _record_result(store, record, result)
    return store.get(record.id) or record


def _record_result(store: RecordStore, record: RunRecord, result: InfrastructureResult) -> None:
    store.set_end(
        record.id,
        status=RunStatus.EXITED,
        status_code=result.status_code,
        exit_reason=str(result.exit_reason),
        reason=result.reason,
    )


async def wait_async(reference: str, *, store: RecordStore | None = None) -> RunRecord:
    """Block until the run ends; its final record (``status_code``,
    ``exit_reason``; ``lost`` when its supervisor died without an end and no
    engine knows it)."""
    with _opened(store) as opened:
        return await _until_ended(opened, opened.resolve(reference), follow_output=False)


async def attach_async(reference: str, *, store: RecordStore | None = None) -> RunRecord:
    """Follow a run started anywhere: its output from the start (a detached
    process run's log; a container's or job's output from its engine), until
    it ends; its final record, with the real exit code."""
    with _opened(store) as opened:
        record = opened.resolve(reference)
        if record.kind in _ENGINE_KINDS and not record.finished:
            return await _attach_engine(opened, record, follow_output=True)
        if record.log is not None:
            await _follow_log(opened, record)
        return await _until_ended(opened, record, follow_output=False)


# --- output ------------------------------------------------------------------------------------


def _write_stdout(data: bytes) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        sys.stdout.write(data.decode(errors="replace"))
        sys.stdout.flush()


async def _follow_log(store: RecordStore, record: RunRecord) -> None:
    """Copy a detached process run's log to our stdout until its supervisor
    has written the end (it writes the last byte of the log before that)."""
    import anyio

    from launchbay._internal.records import logs as logfiles

    assert record.log is not None
    follower = logfiles.LogFollower(Path(record.log))
    delay = 0.01
    try:
        while True:
            got = False
            for chunk in follower.read_available():
                _write_stdout(chunk)
                got = True
            current = store.get(record.id)
            if (
                current is None
                or current.finished
                or (supervisors.liveness(current.supervisor) is supervisors.Liveness.DEAD)
            ):
                for chunk in follower.read_available():
                    _write_stdout(chunk)
                return
            delay = 0.01 if got else min(delay * 2, 0.25)
            await _supervisor_or_timeout(current.supervisor, delay)
            await anyio.lowlevel.checkpoint()
    finally:
        follower.close()


async def logs_async(reference: str, *, follow: bool = False, store: RecordStore | None = None) -> RunRecord:
    """Print a run's output on our stdout (and stderr, where the engine keeps
    them apart): a detached process run's log; a container's or job's output
    from its engine. ``follow``: go on until the run ends."""
    from launchbay._internal.records import engines
    from launchbay._internal.records import logs as logfiles

    with _opened(store) as opened:
        record = opened.resolve(reference)
        pid = record.infrastructure_pid
        if record.kind == PROCESS:
            if record.log is None:
                raise NoLog(
                    f"Run {record.short_id} kept no log: its output went to the terminal that ran it "
                    "(runs started with `launchbay run -d` keep theirs)."
                )
            if not follow:
                for chunk in logfiles.read_all(Path(record.log)):
                    _write_stdout(chunk)
                return record
            await _follow_log(opened, record)
            return opened.get(record.id) or record
        if pid is None:
            raise RunNotFound(f"Run {record.short_id} never started: it has no output.")
        if follow and not record.finished:
            return await _attach_engine(opened, record, follow_output=True)
        if record.kind == DOCKER:
            await engines.docker_logs(pid)
        else:
            await engines.kubernetes_logs(pid, _cluster_inputs(record))
        return record


# --- stopping and removing ------------------------------------------------------------------------


def infrastructure_for(record: RunRecord, *, stream_output: bool = False) -> Infrastructure:
    """A configuration that reaches the run: its saved block, else a default
    one of its kind (a Kubernetes one in the pid's namespace)."""
    from launchbay.blocks.core import Block
    from launchbay.infrastructure.base import Infrastructure

    block: Block | None = None
    if record.block:
        try:
            block = Block.load(record.block)
        except LaunchbayError as exc:
            logger.warning(
                "The block %s of run %s cannot be loaded (%s): using defaults.",
                record.block,
                record.short_id,
                exc,
            )
    if not isinstance(block, Infrastructure):
        cls = Block.block_class_for(record.kind)
        fields: dict[str, Any] = {}
        if record.kind == KUBERNETES and record.infrastructure_pid:
            fields["namespace"] = record.infrastructure_pid.split(":")[1]
        block = cls(**fields)
    assert isinstance(block, Infrastructure)
    if hasattr(block, "stream_output"):
        block = block.model_copy(update={"stream_output": stream_output})
    return block


def _cluster_inputs(record: RunRecord) -> Any:
    from launchbay._internal.kubernetes.manifest import ClusterInputs
    from launchbay.settings import get_current_settings

    job = infrastructure_for(record)
    config = getattr(job, "cluster_config", None)
    uid = get_current_settings().kubernetes_cluster_uid
    if config is None:
        return ClusterInputs(cluster_uid=uid)
    return ClusterInputs(kubeconfig=config.config, context=config.context_name, cluster_uid=uid)


def kill(reference: str, grace_seconds: float = 30, *, store: RecordStore | None = None) -> RunRecord:
    """Stop a run named by its id, name or infrastructure pid (as its kind's
    ``kill`` does); its record."""
    with _opened(store) as opened:
        record = opened.resolve(reference)
        if record.infrastructure_pid is None:
            raise RunNotFound(f"Run {record.short_id} never started: there is nothing to stop.")
        infrastructure_for(record).kill(record.infrastructure_pid, grace_seconds=grace_seconds)
        return opened.get(record.id) or record


def remove(reference: str, *, force: bool = False, store: RecordStore | None = None) -> RunRecord:
    """Remove a finished run's record and its log; ``force``: stop a running
    one first (at once, as ``docker rm -f``)."""
    from launchbay._internal.records import logs as logfiles
    from launchbay.exceptions import InfrastructureNotFound

    with _opened(store) as opened:
        record = get(reference, store=opened)
        if not record.finished:
            if not force:
                raise RunStillRunning(
                    f"Run {record.short_id} is running: stop it first (launchbay kill {record.short_id}), "
                    "or remove it with --force."
                )
            if record.infrastructure_pid is not None:
                with contextlib.suppress(InfrastructureNotFound):
                    infrastructure_for(record).kill(record.infrastructure_pid, grace_seconds=0)
            _settle(opened, record)
        opened.delete([record.id])
        logfiles.remove_log(record.log)
        return record


def _settle(store: RecordStore, record: RunRecord, seconds: float = 10.0) -> None:
    """After a kill, give the supervisor the moment it needs to write the end
    (and the last of the log), so nothing is written after the removal."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = store.get(record.id)
        if current is None or current.finished:
            return
        if supervisors.liveness(current.supervisor) is not supervisors.Liveness.ALIVE:
            return
        time.sleep(0.02)


def prune(*, older_than: float | None = None, store: RecordStore | None = None) -> builtins.list[RunRecord]:
    """Remove the records (and logs) of finished runs, or of those that ended
    more than ``older_than`` seconds ago; the removed records."""
    from launchbay._internal.records import logs as logfiles

    with _opened(store) as opened:
        _refreshed(opened, opened.records(running_only=True))  # lost runs count as finished
        moment = None if older_than is None else time.time() - older_than
        removed = opened.finished_before(moment)
        opened.delete([record.id for record in removed])
    for record in removed:
        logfiles.remove_log(record.log)
    return removed


if TYPE_CHECKING:  # the sync-compatible faces, as type checkers see them

    def wait(reference: str, *, store: RecordStore | None = None) -> RunRecord: ...

    def attach(reference: str, *, store: RecordStore | None = None) -> RunRecord: ...

    def logs(reference: str, *, follow: bool = False, store: RecordStore | None = None) -> RunRecord: ...

else:
    wait = sync_compatible(wait_async)
    attach = sync_compatible(attach_async)
    logs = sync_compatible(logs_async)
