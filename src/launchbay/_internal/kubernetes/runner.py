"""Running, attaching to and killing Kubernetes jobs (SPEC 7.4 and 12).

One run: ``run_job`` takes the frozen ``JobSpec`` that ``manifest.build_spec``
made, opens the loop's shared ``ClusterConnection`` (``connection``), creates
the job (``api``), reports its pid, and hands it to a ``Monitor``: the
monitor subscribes to the job in its namespace's shared watch (``watcher``,
which keeps ``state`` records of jobs and pods), follows each pod's log to our
stdout (``logs``), decides from the records when and how the run ended
(``state``) and returns a ``RunOutcome``, which the block wraps in its result.

Cost of one run, in API requests, once its namespace's shared watch is open
(see ``watcher``): one POST (the job), one streaming GET per pod (its log,
opened once the watch shows the container started), and at most one LIST of
the job's pods at the end (only when the watch has not yet delivered the final
pod status). The first run on a connection adds one GET (the cluster UID, then
cached) and the shared watch's two LISTs and two WATCHes; each open watch is
renewed every few minutes, for all runs together.

A pod slow to start says every ``PROGRESS_SECONDS`` what it waits for: from
its status in the shared watch, and from the kubelet's events about it (is it
pulling?) in the watcher's shared events watch, which the first such line
starts (a one-item LIST and one WATCH for all runs): no request per line.

A single-pod job ends its run as soon as the watch shows its pod ended
(``state.succeeded_early``; ``state.failed_early`` when the backoff limit
leaves no retry), without the job controller's delay; otherwise a failure
waits for the Job's own verdict, since a retry may follow, and then for its
pods to have ended (their exit code and last output). The log follower stops
once the container has ended and its stream is silent (``logs``), without
waiting for the kubelet to close it.

Stopping a run (its ``timeout_seconds``, a cancellation) deletes the job's
pods, then the job, with the grace of ``stopping.current_stop_request()``,
and waits for the pods in the watch's cache; a second signal (the request
escalated) deletes the pods with grace 0.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskStatus

from launchbay._internal import loggers
from launchbay._internal.exits import ExitReason
from launchbay._internal.kubernetes.api import KubeApi, KubernetesApiError, describe_error, is_transient
from launchbay._internal.kubernetes.connection import ClusterConnection, config_source, open_connection
from launchbay._internal.kubernetes.logs import LogFollower
from launchbay._internal.kubernetes.manifest import JobSpec
from launchbay._internal.kubernetes.progress import PodEvent, waiting_for
from launchbay._internal.kubernetes.state import (
    JobEnd,
    JobState,
    PodState,
    Stuck,
    exit_status,
    failed_early,
    final_status,
    job_end,
    newest_pod,
    pods_in_order,
    stuck_on,
    succeeded_early,
)
from launchbay._internal.kubernetes.watcher import Subscription
from launchbay._internal.output import Sink
from launchbay._internal.pids import KubernetesPid, parse_kubernetes_pid
from launchbay._internal.stopping import Escalated, StopRequest, current_stop_request
from launchbay.exceptions import InfrastructureError, InfrastructureNotAvailable, InfrastructureNotFound

logger = logging.getLogger(loggers.KUBERNETES)

# A job the watch has not shown this long after it was created (or attached
# to) is looked up directly, in case it was deleted before the watch began.
UNSEEN_JOB_CHECK_SECONDS = 5.0
# How long, after the job ended, the log may keep streaming without news
# before launchbay stops waiting for it.
LOG_DRAIN_IDLE_SECONDS = 30.0
# How often a pod that has not started says what it waits for (at INFO).
PROGRESS_SECONDS = 5.0
# How long a progress line waits for the shared events watch's first list.
EVENTS_WAIT_SECONDS = 2.0
# ``kill`` waits this long beyond the grace for the job and its pods to go.
KILL_MARGIN_SECONDS = 60.0
# A stopped run waits this long beyond the grace for its pods to end.
POD_END_MARGIN_SECONDS = 15.0
# How often a stop looks at the watch's cache during the grace (and whether
# a second signal asks for an immediate kill).
STOP_POLL_SECONDS = 0.2
# The most one delete request may take when stopping a run.
DELETE_REQUEST_SECONDS = 15.0


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: what the block's result reports."""

    pid: str
    status_code: int  # the exit code of the newest pod's first container; -1 when unknown
    reason: str | None  # why, for people, when it is more than a plain exit
    exit_reason: ExitReason
    # The watch gave up before the job ended (its job or pod watch timeout):
    # the job runs on in the cluster, and its record is handed to it.
    still_running: bool = False


# --- errors ---------------------------------------------------------------------


@asynccontextmanager
async def api_errors(api_host: str, doing: str) -> AsyncIterator[None]:
    """Turn the client's errors into launchbay's, with what was being done."""
    try:
        yield
    except KubernetesApiError as exc:
        raise InfrastructureError(f"Kubernetes API error while {doing} on {api_host}: {exc}") from None
    except Exception as exc:
        if is_transient(exc):
            raise InfrastructureError(
                f"Could not connect to the Kubernetes API at {api_host} while {doing}: "
                f"{describe_error(exc)}. Check that the cluster is running and that your kubeconfig "
                "(KUBECONFIG, ~/.kube/config) or the job's cluster_config points at it."
            ) from None
        raise


def _require_asyncio() -> None:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise InfrastructureError(
            "Kubernetes jobs need the asyncio event loop (anyio's default backend)."
        ) from None


async def _cluster_uid(spec: JobSpec, connection: ClusterConnection) -> str:
    """The settings' cluster UID, else the cluster's own (read once per connection)."""
    if spec.cluster.cluster_uid:
        return spec.cluster.cluster_uid
    async with api_errors(connection.api.host, "reading the cluster UID"):
        return await connection.cluster_uid()


async def _check_reachable(
    spec: JobSpec, connection: ClusterConnection, pid: KubernetesPid, action: str
) -> None:
    """Check that this configuration reaches the pid's cluster and namespace."""
    if pid.namespace != spec.namespace:
        raise InfrastructureNotAvailable(
            f"Unable to {action} job {str(pid)!r}: it is in namespace {pid.namespace!r}, "
            f"and this configuration uses namespace {spec.namespace!r}."
        )
    current = await _cluster_uid(spec, connection)
    if current != pid.cluster_uid:
        raise InfrastructureNotAvailable(
            f"Unable to {action} job {str(pid)!r}: it runs on cluster {pid.cluster_uid!r}, "
            f"and this configuration reaches cluster {current!r}."
        )


def _jobs_path(namespace: str, name: str = "") -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs" + (f"/{name}" if name else "")


# --- run ---------------------------------------------------------------------------


async def run_job(spec: JobSpec, task_status: TaskStatus[str]) -> RunOutcome:
    """Create the job, report its pid, and watch it to its end."""
    _require_asyncio()
    namespace = spec.namespace
    async with open_connection(config_source(spec.cluster)) as connection:
        api = connection.api
        cluster_uid = await _cluster_uid(spec, connection)
        try:
            created = await api.request("POST", _jobs_path(namespace), what="POST job", body=spec.manifest)
        except KubernetesApiError as exc:
            raise InfrastructureError(
                f"Cannot create the job in namespace {namespace!r} on {api.host}: {exc.message or exc}"
            ) from None
        except Exception as exc:
            if is_transient(exc):
                raise InfrastructureError(
                    f"Could not connect to the Kubernetes API at {api.host} to create the job: "
                    f"{describe_error(exc)}."
                ) from None
            raise
        metadata = created.get("metadata") or {}
        name, uid = metadata["name"], metadata["uid"]
        # The run's own clock starts now; the cluster's (activeDeadlineSeconds)
        # starts when the job controller first sees the job: a little later.
        deadline = None if spec.timeout_seconds is None else time.monotonic() + spec.timeout_seconds
        pid = str(KubernetesPid(cluster_uid, namespace, name))
        logger.info("Job %r created in namespace %r.", name, namespace)
        monitor = Monitor(spec, connection, name, uid, pid, deadline=deadline)
        async with monitor.watching():
            try:
                task_status.started(pid)
                async with api_errors(api.host, f"watching job {name!r} (pid {pid})"):
                    return await monitor.run()
            except BaseException:
                # Cancelled (Ctrl+C, an enclosing scope) or failed: the job would run
                # on unwatched, so it goes, as a process run's tree does.
                with anyio.CancelScope(shield=True):
                    await monitor.abandon()
                raise


async def attach_job(spec: JobSpec, infrastructure_pid: str, task_status: TaskStatus[str]) -> RunOutcome:
    """Watch a job another process created to its end, as ``run_job`` would have."""
    _require_asyncio()
    pid = parse_kubernetes_pid(infrastructure_pid)
    async with open_connection(config_source(spec.cluster)) as connection:
        await _check_reachable(spec, connection, pid, "attach to")
        async with api_errors(connection.api.host, f"reading job {pid.job_name!r}"):
            try:
                raw = await connection.api.request(
                    "GET", _jobs_path(pid.namespace, pid.job_name), what="GET job", retry_for=10
                )
            except KubernetesApiError as exc:
                if exc.status == 404:
                    raise InfrastructureNotFound(
                        f"Job {infrastructure_pid!r} was not found (deleted, or expired after its TTL)."
                    ) from None
                raise
        uid = (raw.get("metadata") or {}).get("uid", "")
        task_status.started(infrastructure_pid)
        logger.info("Attached to job %r in namespace %r.", pid.job_name, pid.namespace)
        # No clock of its own: the job's activeDeadlineSeconds (set by the run
        # that created it) is the cluster's to enforce.
        monitor = Monitor(spec, connection, pid.job_name, uid, infrastructure_pid, deadline=None)
        async with (
            monitor.watching(),
            api_errors(connection.api.host, f"watching job {pid.job_name!r} (pid {infrastructure_pid})"),
        ):
            return await monitor.run()


# --- kill -----------------------------------------------------------------------------


async def kill_job(spec: JobSpec, infrastructure_pid: str, grace_seconds: float) -> None:
    """Delete the job and its pods with that grace period; return once they are gone."""
    _require_asyncio()
    pid = parse_kubernetes_pid(infrastructure_pid)
    async with open_connection(config_source(spec.cluster)) as connection:
        await _check_reachable(spec, connection, pid, "kill")
        api, namespace, name = connection.api, pid.namespace, pid.job_name
        async with api_errors(api.host, f"deleting job {name!r}"):
            try:
                deleted = await _delete(api, namespace, name, grace_seconds, propagation="Foreground")
            except KubernetesApiError as exc:
                if exc.status == 404:
                    raise InfrastructureNotFound(
                        f"Unable to kill job {infrastructure_pid!r}: the job was not found."
                    ) from None
                raise
            logger.info("Deleting job %r (grace period %s s)...", name, grace_seconds)
            waited = grace_seconds + KILL_MARGIN_SECONDS
            if not await _wait_until_gone(api, namespace, name, deleted, waited):
                raise InfrastructureError(await _still_deleting(api, namespace, name, deleted, waited))


async def _still_deleting(
    api: KubeApi, namespace: str, name: str, deleted: Mapping[str, Any], waited: float
) -> str:
    """Why a killed job is still there, in one line: the pods still terminating."""
    uid = (deleted.get("metadata") or {}).get("uid") or ""
    pods: list[str] = []
    try:
        listing = await api.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            what="LIST job pods",
            query=[("labelSelector", f"controller-uid={uid}")],
            retry_for=10,
        )
        pods = sorted(str((item.get("metadata") or {}).get("name")) for item in listing.get("items") or [])
    except Exception as exc:
        logger.debug("Could not list the pods of job %r: %s", name, describe_error(exc))
    what = (
        f"pod(s) {', '.join(pods)} still terminating"
        if pods
        else "no pod left, the job itself not yet removed (a finalizer?)"
    )
    return f"Job {name!r} in namespace {namespace!r} is still being deleted after {waited:g} s: {what}."


def _delete_options(grace_seconds: float, propagation: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        # Whole seconds, never fewer than asked for (0 stays 0: at once).
        "gracePeriodSeconds": max(math.ceil(grace_seconds), 0),
        "propagationPolicy": propagation,
    }


async def _delete(
    api: KubeApi, namespace: str, name: str, grace_seconds: float, *, propagation: str, uid: str | None = None
) -> dict[str, Any]:
    """Delete the job's pods with that grace period, then the job.

    Pods first: the garbage collector (and the job controller, for a
    deadline) delete pods with their own grace period, and a deletion can
    only shorten a grace period, never lengthen it; the collector leaves pods
    already being deleted alone. A pod the job controller makes meanwhile is
    the collector's (it has barely started)."""
    if uid is None:
        current = await api.request("GET", _jobs_path(namespace, name), what="GET job", retry_for=10)
        uid = (current.get("metadata") or {}).get("uid")
    if uid:
        await _delete_pods(api, namespace, name, uid, grace_seconds)
    options = _delete_options(grace_seconds, propagation)
    return await api.request("DELETE", _jobs_path(namespace, name), what="DELETE job", body=options)


async def _delete_pods(api: KubeApi, namespace: str, name: str, uid: str, grace_seconds: float) -> None:
    """Delete the pods of the job ``uid`` with that grace period (a shorter one
    than they were deleted with before cuts their grace short)."""
    try:
        await api.request(
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods",
            what="DELETE pods",
            query=[("labelSelector", f"controller-uid={uid}")],
            body=_delete_options(grace_seconds, "Background"),
        )
    except KubernetesApiError as exc:  # e.g. no deletecollection right: the collector does it
        logger.debug("Could not delete the pods of job %r: %s", name, exc)


async def _wait_until_gone(
    api: KubeApi, namespace: str, name: str, deleted: Mapping[str, Any], timeout: float
) -> bool:
    """Wait (with a watch of that one job) until the job no longer exists."""
    metadata = deleted.get("metadata") or {}
    if deleted.get("kind") == "Status":  # already gone
        return True
    resource_version = metadata.get("resourceVersion") or ""
    with anyio.move_on_after(timeout):
        while True:
            try:
                async with api.stream(
                    _jobs_path(namespace),
                    what="WATCH job",
                    query=[
                        ("fieldSelector", f"metadata.name={name}"),
                        ("watch", "true"),
                        ("resourceVersion", resource_version),
                        ("timeoutSeconds", str(int(timeout) + 1)),
                    ],
                    read_timeout=timeout + 30,
                ) as response:
                    while line := await response.content.readline():
                        event = json.loads(line)
                        if event.get("type") == "DELETED":
                            return True
                        if event.get("type") == "ERROR":
                            break
                        resource_version = (event.get("object", {}).get("metadata") or {}).get(
                            "resourceVersion", resource_version
                        )
            except Exception as exc:
                if not (is_transient(exc) or isinstance(exc, (KubernetesApiError, ValueError))):
                    raise
            # Ended or failed: is it gone already?
            try:
                current = await api.request("GET", _jobs_path(namespace, name), what="GET job", retry_for=10)
            except KubernetesApiError as exc:
                if exc.status == 404:
                    return True
                raise
            if (current.get("metadata") or {}).get("uid") != metadata.get("uid"):
                return True
            resource_version = (current.get("metadata") or {}).get("resourceVersion", "")
            await anyio.sleep(0.5)
    return False


# --- monitoring ---------------------------------------------------------------------------


@dataclass
class _StuckPod:
    pod: str
    cause: Stuck
    since: float


@dataclass(frozen=True)
class _JobOver:
    """The job ended (``end``), was deleted, or timed out and was deleted by
    launchbay (``timed_out``): the pods say how."""

    end: JobEnd | None
    deleted: bool
    timed_out: bool = False


class Monitor:
    """Watches one job to its end through the namespace's shared watch.

    ``deadline`` (monotonic time) is when a run with a timeout is stopped:
    the job is deleted with the stop request's grace, unless the job
    controller (``activeDeadlineSeconds``) has ended it first."""

    def __init__(
        self,
        spec: JobSpec,
        connection: ClusterConnection,
        name: str,
        uid: str,
        pid: str,
        *,
        deadline: float | None,
    ) -> None:
        self.spec = spec
        self.connection = connection
        self.api: KubeApi = connection.api
        self.namespace = spec.namespace
        self.name = name
        self.uid = uid
        self.pid = pid
        self.deadline = deadline
        self.sub: Subscription
        self.ended = anyio.Event()
        self._phases: dict[str, str] = {}
        self._stuck: _StuckPod | None = None
        self._started_at = time.monotonic()
        self._last_lookup = 0.0
        self._ended_at = 0.0
        self._settling_until: float | None = None
        self.followers: list[LogFollower] = []

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[Monitor]:
        """Subscribe to the job in its namespace's shared watch."""
        watcher = self.connection.watcher(self.namespace)
        async with watcher.subscribe(self.name, self.uid) as self.sub:
            yield self

    async def run(self) -> RunOutcome:
        failed = await self._wait_for_start()
        if failed is not None:
            return failed
        return await self._wait_for_end()

    def _outcome(
        self, status_code: int, reason: str | None, exit_reason: ExitReason, *, still_running: bool = False
    ) -> RunOutcome:
        return RunOutcome(self.pid, status_code, reason, exit_reason, still_running)

    # --- shared checks -------------------------------------------------------------

    def _check_watch(self) -> None:
        failure = self.sub.failure
        if failure is not None:
            raise InfrastructureError(
                f"Cannot watch job {self.name!r} in namespace {self.namespace!r} "
                f"(pid {self.pid}): {describe_error(failure)}"
            )

    def _log_phase_changes(self) -> None:
        for pod in pods_in_order(self.sub.pods.values()):
            phase = "Deleted" if pod.deleted else pod.phase
            if self._phases.get(pod.name) != phase:
                self._phases[pod.name] = phase
                logger.info("Job %r: Pod %r has status %r.", self.name, pod.name, phase)

    def _newest(self) -> PodState | None:
        return newest_pod(pod for pod in self.sub.pods.values() if not pod.deleted)

    def _stuck_deadline(self, pod: PodState | None, now: float) -> float | None:
        """Track how long the newest pod has been stuck; the time at which the
        grace runs out (None: not stuck, or fail-fast is off)."""
        grace = self.spec.pod_failure_grace_seconds
        cause = stuck_on(pod) if pod is not None else None
        if pod is None or cause is None or grace is None:
            self._stuck = None
            return None
        if self._stuck is None or self._stuck.pod != pod.name:
            self._stuck = _StuckPod(pod.name, cause, now)
        else:
            self._stuck.cause = cause
        return self._stuck.since + grace

    def _timed_out(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    @property
    def _timeout_text(self) -> str:
        return f"timed out after {self.spec.timeout_seconds:g} s"

    async def _look_up_unseen_job(self, now: float) -> float | None:
        """If the watch (synced) has not shown the job for a while, ask for it
        directly: it may have been deleted before the watch began. Returns
        when to look again."""
        sub = self.sub
        if sub.job is not None or sub.job_deleted or not sub.synced:
            return None
        due = max(self._started_at, self._last_lookup) + UNSEEN_JOB_CHECK_SECONDS
        if now < due:
            return due
        self._last_lookup = now
        try:
            raw = await self.api.request(
                "GET", _jobs_path(self.namespace, self.name), what="GET job", retry_for=10
            )
        except KubernetesApiError as exc:
            if exc.status != 404:
                raise
            raw = None
        sub.learn(None if raw is None else JobState.from_raw(raw))
        return now + UNSEEN_JOB_CHECK_SECONDS

    # --- phase 1: the pod starts ------------------------------------------------------------

    async def _wait_for_start(self) -> RunOutcome | None:
        """Wait for the newest pod to start (``PodState.has_started``: its
        phase left Pending, or its container has run, whatever the phase
        says), saying every few seconds what it waits for; an outcome when
        the run ends here (never started, stuck, timed out)."""
        timeout = self.spec.pod_watch_timeout_seconds
        deadline = time.monotonic() + timeout
        progress_due = time.monotonic() + PROGRESS_SECONDS
        while True:
            self._check_watch()
            seen = self.sub.version
            now = time.monotonic()
            if not self.sub.synced:  # the cache is not complete yet: nothing to conclude
                if now >= deadline:
                    raise InfrastructureError(
                        f"Cannot watch job {self.name!r} in namespace {self.namespace!r} "
                        f"(pid {self.pid}): the watch did not start within {timeout} s."
                    )
                await self.sub.wait(seen, min(deadline, self.deadline or deadline) - now)
                if self._timed_out(time.monotonic()):
                    return await self._time_out_before_start(None)
                continue
            self._log_phase_changes()
            sub = self.sub
            if sub.job_deleted or (sub.job is not None and job_end(sub.job)):
                return None
            pod = self._newest()
            if pod is not None and pod.has_started(self.spec.container_name):
                return None  # its log is followed from now on
            now = time.monotonic()
            if self._timed_out(now):
                return await self._time_out_before_start(pod)
            stuck_until = self._stuck_deadline(pod, now)
            if stuck_until is not None and now >= stuck_until:
                return await self._fail_fast()
            if now >= deadline:
                waiting = self._waiting_reason(pod)
                reason = f"the pod did not start within {timeout} s" + (f" ({waiting})" if waiting else "")
                logger.error("Job %r: Pod never started: %s.", self.name, reason)
                return self._outcome(-1, reason, ExitReason.TIMED_OUT, still_running=True)
            if now >= progress_due:
                await self._log_progress(pod, now)
                progress_due = now + PROGRESS_SECONDS
            wakes = (deadline, stuck_until, progress_due, self.deadline, await self._look_up_unseen_job(now))
            await sub.wait(seen, min(t for t in wakes if t is not None) - time.monotonic())

    async def _log_progress(self, pod: PodState | None, now: float) -> None:
        """One line on what the pod waits for (pulling, scheduling, ...)."""
        events: list[PodEvent] = []
        scheduled = pod.condition("PodScheduled") if pod is not None else None
        if pod is not None and pod.uid and scheduled and scheduled.true:
            # Only the kubelet's events say it is pulling: the shared events watch.
            events = await self.sub.pod_events(pod, EVENTS_WAIT_SECONDS)
        what = waiting_for(pod, events)
        waited = now - self._started_at
        if pod is None:
            logger.info("Job %r: no pod yet, %s (%.0f s).", self.name, what, waited)
        else:
            logger.info("Job %r: Pod %r is %s (%.0f s).", self.name, pod.name, what, waited)

    @staticmethod
    def _waiting_reason(pod: PodState | None) -> str | None:
        if pod is None:
            return "no pod was created"
        for container in (*pod.init_containers, *pod.containers):
            if container.state == "waiting" and container.reason:
                return f"{container.reason}: {container.message}" if container.message else container.reason
        scheduled = pod.condition("PodScheduled")
        if scheduled is not None and scheduled.status == "False":
            return f"{scheduled.reason}: {scheduled.message}" if scheduled.message else scheduled.reason
        return None

    async def _fail_fast(self) -> RunOutcome:
        assert self._stuck is not None
        stuck = self._stuck
        logger.error(
            "Job %r: Pod %r cannot start: %s (for %.0f s). Deleting the job.",
            self.name,
            stuck.pod,
            stuck.cause.reason,
            self.spec.pod_failure_grace_seconds or 0,
        )
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(DELETE_REQUEST_SECONDS):
                await _delete(self.api, self.namespace, self.name, 0, propagation="Background", uid=self.uid)
        except Exception as exc:
            logger.warning("Could not delete job %r: %s", self.name, describe_error(exc))
        return self._outcome(-1, stuck.cause.reason, stuck.cause.exit_reason)

    async def _time_out_before_start(self, pod: PodState | None) -> RunOutcome:
        """The run's timeout came before its pod started: the job goes."""
        waiting = self._waiting_reason(pod)
        reason = self._timeout_text + (f" before its pod started ({waiting})" if waiting else "")
        logger.error("Job %r %s; deleting it.", self.name, reason)
        with anyio.CancelScope(shield=True):
            await self.stop()
        return self._outcome(-1, reason, ExitReason.TIMED_OUT)

    # --- stopping ------------------------------------------------------------------------------

    def _pods_ended(self) -> bool:
        """Whether no pod of the job runs any more (each deleted, finished,
        its container ended, or never started and being deleted)."""
        for pod in self.sub.pods.values():
            if pod.deleted or pod.finished:
                continue
            container = pod.container(self.spec.container_name)
            if container is not None and container.state == "terminated":
                continue
            if pod.deleting and (container is None or not container.has_started):
                continue
            return False
        return True

    async def stop(self) -> None:
        """Delete the job and its pods with the grace of the stop request in
        effect, and wait (through the grace) until its pods have ended; a
        second signal (the request escalated) deletes them at once."""
        request = current_stop_request()
        grace = request.grace_seconds
        try:
            if request.escalated:
                raise Escalated
            try:
                with anyio.move_on_after(DELETE_REQUEST_SECONDS):
                    await _delete(
                        self.api, self.namespace, self.name, grace, propagation="Background", uid=self.uid
                    )
            except KubernetesApiError as exc:
                if exc.status != 404:  # 404: the job had gone already (its pods were deleted first)
                    raise
            await self._wait_for_pods_to_end(request, grace + POD_END_MARGIN_SECONDS)
        except Escalated:
            logger.warning("Job %r: killing its pods now.", self.name)
            with anyio.move_on_after(DELETE_REQUEST_SECONDS):
                await _delete_pods(self.api, self.namespace, self.name, self.uid, 0)
            await self._wait_for_pods_to_end(None, POD_END_MARGIN_SECONDS)
        except Exception as exc:
            logger.warning("Could not delete job %r: %s", self.name, describe_error(exc))

    async def _wait_for_pods_to_end(self, request: StopRequest | None, limit: float) -> bool:
        """Wait up to ``limit`` s for the pods to end (from the watch's cache:
        no request); ``request`` escalated raises ``Escalated``."""
        give_up = time.monotonic() + limit
        while True:
            seen = self.sub.version
            if self._pods_ended():
                return True
            remaining = give_up - time.monotonic()
            if remaining <= 0 or self.sub.failure is not None:
                logger.warning("Job %r: its pods are still being deleted.", self.name)
                return False
            if request is None:
                await self.sub.wait(seen, remaining)
            else:
                await request.sleep_unless_escalated(min(STOP_POLL_SECONDS, remaining))

    async def abandon(self) -> None:
        """The run stopped before its end (cancelled, or failed): delete the job."""
        if self.ended.is_set() and self.sub.job_deleted:
            return
        grace = current_stop_request().grace_seconds
        logger.warning("Run stopped before its end: deleting job %r (grace %g s).", self.name, grace)
        await self.stop()
        logger.info("Job %r cancelled.", self.name)

    # --- phase 2: logs and the end -------------------------------------------------------------

    async def _wait_for_end(self) -> RunOutcome:
        timeout = self.spec.job_watch_timeout_seconds
        deadline = None if timeout is None else time.monotonic() + timeout
        async with anyio.create_task_group() as task_group:
            logs_done = anyio.Event()
            if self.spec.stream_output:
                task_group.start_soon(self._follow_logs, logs_done)
            else:
                logs_done.set()
            over = await self._wait_for_completion(deadline)
            self._ended_at = time.monotonic()
            self.ended.set()
            self.sub.poke()  # the log follower may wait for a pod that will not come
            if isinstance(over, _JobOver):
                await self._drain_logs(logs_done, deadline)
            task_group.cancel_scope.cancel()
        if isinstance(over, RunOutcome):  # the watch timed out, or stuck
            return over
        return await self._final_outcome(over)

    async def _wait_for_completion(self, deadline: float | None) -> _JobOver | RunOutcome:
        while True:
            self._check_watch()
            seen = self.sub.version
            self._log_phase_changes()
            sub = self.sub
            now = time.monotonic()
            over: _JobOver | None = None
            if sub.job_deleted:
                over = _JobOver(None, deleted=True)
            elif sub.job is not None:
                end = job_end(sub.job)
                if end is not None:
                    over = _JobOver(end, deleted=sub.job.deleting)
                elif sub.job.deleting and self._pods_ended():
                    over = _JobOver(None, deleted=True)  # being deleted (kill): its pods have ended
            if over is not None and self._settled(over, now):
                return over
            pod = self._newest()
            if succeeded_early(sub.job, pod):
                # Certain from the pod: the Job's condition would only add the
                # job controller's delay. The logs are still drained to their end.
                logger.debug(
                    "Job %r: its only pod succeeded; not waiting for the Job's condition.", self.name
                )
                return _JobOver(JobEnd(succeeded=True), deleted=False)
            if failed_early(sub.job, sub.pods.values()):
                # Certain from the pods: no retry is left, and the pod's exit
                # code is what the Job's verdict would come to.
                logger.debug("Job %r: its pod failed with no retry left; not waiting for the Job.", self.name)
                return _JobOver(JobEnd(succeeded=False), deleted=False)
            if self._timed_out(now):
                logger.error("Job %r %s; deleting it.", self.name, self._timeout_text)
                with anyio.CancelScope(shield=True):
                    await self.stop()  # the logs keep streaming meanwhile
                return _JobOver(None, deleted=True, timed_out=True)
            stuck_until = (
                self._stuck_deadline(pod, now)
                if pod is not None and not pod.has_started(self.spec.container_name)
                else None
            )
            if stuck_until is None:
                self._stuck = None
            elif now >= stuck_until:
                return await self._fail_fast()
            if deadline is not None and now >= deadline:
                timeout = self.spec.job_watch_timeout_seconds
                logger.error("Job %r did not complete within timeout of %s s.", self.name, timeout)
                return self._outcome(
                    -1,
                    f"the job did not complete within {timeout} s",
                    ExitReason.TIMED_OUT,
                    still_running=True,
                )
            wakes = [
                t
                for t in (
                    deadline,
                    stuck_until,
                    self.deadline,
                    self._settling_until,
                    await self._look_up_unseen_job(now),
                )
                if t is not None
            ]
            await sub.wait(seen, (min(wakes) - time.monotonic()) if wakes else None)

    def _settled(self, over: _JobOver, now: float) -> bool:
        """Whether a job that failed or was deleted can be concluded on: its
        pods have ended, so the exit code is known (the job controller counts
        a pod being deleted as failed before it has exited, and a job deleted
        in the background goes before its pods). Pods that do not end within
        their deletion grace period (plus a margin) are not waited for."""
        if (over.end is not None and over.end.succeeded) or self._pods_ended():
            return True
        if self._settling_until is None:
            graces = [pod.deletion_grace_seconds or 0 for pod in self.sub.pods.values() if not pod.deleted]
            self._settling_until = now + max(graces, default=0) + POD_END_MARGIN_SECONDS
            logger.debug("Job %r ended; waiting for its pods to end.", self.name)
        return now >= self._settling_until

    async def _drain_logs(self, logs_done: anyio.Event, deadline: float | None) -> None:
        """Let the log followers reach the end of the logs, while they make progress."""
        while not logs_done.is_set():
            with anyio.move_on_after(1.0):
                await logs_done.wait()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            last_data = max([f.last_data for f in self.followers] or [self._started_at])
            if now - max(last_data, self._ended_at) > LOG_DRAIN_IDLE_SECONDS:
                logger.warning("Job %r: stopped waiting for the rest of its log.", self.name)
                return

    async def _follow_logs(self, done: anyio.Event) -> None:
        """Follow the job's container of each of the job's pods, in order of
        creation (a retried job has one pod per attempt)."""
        # sys.stdout at each write: a redirection made meanwhile is honoured.
        sink = Sink.looking_up(lambda: sys.stdout)
        followed: set[str] = set()
        try:
            while True:
                seen = self.sub.version
                pending = [p for p in pods_in_order(self.sub.pods.values()) if p.name not in followed]
                if not pending:
                    if self.ended.is_set():
                        return
                    await self.sub.wait(seen, None)
                    continue
                pod = pending[0]
                container = pod.container(self.spec.container_name)
                if container is not None and container.has_started:
                    followed.add(pod.name)
                    await self._follow_pod(pod.name, sink)
                    continue
                never_runs = (
                    pod.deleted
                    or pod.finished
                    or self.ended.is_set()
                    or (
                        len(pending) > 1
                        and pending[-1].name != pod.name
                        and pending[-1].has_started(self.spec.container_name)
                    )
                )
                if never_runs:
                    followed.add(pod.name)  # it never ran: no log
                    continue
                await self.sub.wait(seen, None)
        finally:
            done.set()

    async def _follow_pod(self, pod_name: str, sink: Sink) -> None:
        container_name = self.spec.container_name

        def container_done() -> bool:
            pod = self.sub.pods.get(pod_name)
            if pod is None or pod.deleted or pod.finished:
                return True
            container = pod.container(container_name)
            return container is not None and container.state == "terminated"

        def lost() -> bool:
            pod = self.sub.pods.get(pod_name)
            return pod is None or pod.deleted

        async def wait_for_news(timeout: float) -> None:
            await self.sub.wait(self.sub.version, timeout)

        follower = LogFollower(
            self.api, self.namespace, pod_name, container_name, sink, container_done, lost, wait_for_news
        )
        self.followers.append(follower)
        await follower.follow()

    # --- the outcome ----------------------------------------------------------------------

    async def _final_outcome(self, over: _JobOver) -> RunOutcome:
        pod = newest_pod(self.sub.pods.values())
        status = final_status(pod, over.end, deleted=over.deleted)
        if over.timed_out:
            code = -1 if status.code is None else status.code
            reason = "; ".join(r for r in (self._timeout_text, exit_status(pod).reason if pod else None) if r)
            logger.error("Job %r %s and was deleted (status code %s).", self.name, self._timeout_text, code)
            return self._outcome(code, reason, ExitReason.TIMED_OUT)
        if status.code is None and not (pod is not None and pod.deleted):
            # The job's status can arrive before its pod's: read the pods once.
            refreshed = await self._refresh_newest_pod()
            if refreshed is not None:
                pod = refreshed
                status = final_status(pod, over.end, deleted=over.deleted)
        if status.code is None:
            logger.error(
                "Job %r: no exit code: its pod %s%s.",
                self.name,
                "did not run to completion (evicted, preempted or never ran)" if pod else "was never created",
                f" ({status.reason})" if status.reason else "",
            )
            return self._outcome(
                -1, status.reason or "no pod of the job ran to completion", status.exit_reason
            )
        if status.code == 0 and not status.reason:
            logger.info("Job %r completed.", self.name)
        else:
            logger.error(
                "Job %r: Pod %r exited with status code %s%s.",
                self.name,
                pod.name if pod else "?",
                status.code,
                f" ({status.reason})" if status.reason else "",
            )
        return self._outcome(status.code, status.reason, status.exit_reason)

    async def _refresh_newest_pod(self) -> PodState | None:
        try:
            listing = await self.api.request(
                "GET",
                f"/api/v1/namespaces/{self.namespace}/pods",
                what="LIST job pods",
                query=[("labelSelector", f"controller-uid={self.uid}")],
                retry_for=30,
            )
        except Exception as exc:
            logger.debug("Could not list the pods of job %r: %s", self.name, describe_error(exc))
            return None
        return newest_pod(PodState.from_raw(raw) for raw in listing.get("items") or [])
