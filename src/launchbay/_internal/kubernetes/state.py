"""What launchbay needs to know about jobs and pods, read from the API's raw
objects, and the pure decisions made from it: has the job finished, which pod
is the newest, is a pod stuck on something it cannot leave by itself, what was
the exit code and why. Small frozen records, so a watcher can cache a whole
namespace cheaply."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from launchbay._internal.exits import ExitReason, signal_name

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")

# Waiting reasons a container does not leave without a change elsewhere (an
# image pushed, a secret created): the run fails fast on them after a grace.
# ErrImageNeverPull: pull policy Never and the image is not on the node.
STUCK_WAITING_REASONS = {
    "ErrImagePull": ExitReason.IMAGE_PULL_FAILED,
    "ImagePullBackOff": ExitReason.IMAGE_PULL_FAILED,
    "InvalidImageName": ExitReason.IMAGE_PULL_FAILED,
    "ErrImageNeverPull": ExitReason.IMAGE_PULL_FAILED,
    "CreateContainerConfigError": ExitReason.CONFIG_ERROR,
}
# A CreateContainerConfigError whose message starts so ("failed to sync secret
# cache: timed out waiting for the condition") is the kubelet's cache lagging
# under load, not the pod's configuration: not a cause to fail on.
_KUBELET_CACHE_HICCUP = "failed to sync "
UNSCHEDULABLE = "Unschedulable"
# Pod reasons (status.reason) of a pod that something outside it stopped.
EVICTION_POD_REASONS = frozenset({"Evicted", "Preempting", "Shutdown", "NodeLost", "Terminated"})
DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str | None = None
    message: str | None = None

    @property
    def true(self) -> bool:
        return self.status == "True"


def _conditions(raw: Any) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Condition(
            type=str(item.get("type", "")),
            status=str(item.get("status", "")),
            reason=item.get("reason"),
            message=item.get("message"),
        )
        for item in raw
        if isinstance(item, dict)
    )


@dataclass(frozen=True)
class JobState:
    name: str
    uid: str
    backoff_limit: int | None
    failed: int
    conditions: tuple[Condition, ...]
    deleting: bool
    # What decides whether one succeeded pod settles the job (see ``succeeded_early``).
    completions: int | None = None
    parallelism: int | None = None
    active_deadline_seconds: int | None = None
    suspended: bool = False
    managed_by: str | None = None
    # What decides whether one failed pod settles the job (see ``failed_early``).
    restart_policy: str | None = None
    pod_failure_policy: bool = False
    backoff_limit_per_index: int | None = None

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> JobState:
        metadata = raw.get("metadata") or {}
        spec = raw.get("spec") or {}
        status = raw.get("status") or {}
        return cls(
            name=metadata.get("name", ""),
            uid=metadata.get("uid", ""),
            backoff_limit=spec.get("backoffLimit"),
            failed=int(status.get("failed") or 0),
            conditions=_conditions(status.get("conditions")),
            deleting=bool(metadata.get("deletionTimestamp")),
            completions=spec.get("completions"),
            parallelism=spec.get("parallelism"),
            active_deadline_seconds=spec.get("activeDeadlineSeconds"),
            suspended=bool(spec.get("suspend")),
            managed_by=spec.get("managedBy"),
            restart_policy=((spec.get("template") or {}).get("spec") or {}).get("restartPolicy"),
            pod_failure_policy=bool(spec.get("podFailurePolicy")),
            backoff_limit_per_index=spec.get("backoffLimitPerIndex"),
        )

    def condition(self, kind: str) -> Condition | None:
        for condition in self.conditions:
            if condition.type == kind and condition.true:
                return condition
        return None


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str | None  # "waiting", "running", "terminated" or None (unknown)
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    signal: int | None = None

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> ContainerState:
        name = str(raw.get("name", ""))
        states = raw.get("state") or {}
        for kind in ("terminated", "running", "waiting"):
            detail = states.get(kind)
            if isinstance(detail, dict):
                return cls(
                    name=name,
                    state=kind,
                    reason=detail.get("reason"),
                    message=detail.get("message"),
                    exit_code=detail.get("exitCode"),
                    signal=detail.get("signal"),
                )
        return cls(name=name, state=None)

    @property
    def has_started(self) -> bool:
        """Whether the container has (had) a process, so it has a log."""
        return self.state in ("running", "terminated")


@dataclass(frozen=True)
class PodState:
    name: str
    uid: str
    job_name: str | None
    job_uid: str | None
    created: str
    started: str | None
    phase: str
    reason: str | None
    message: str | None
    conditions: tuple[Condition, ...]
    first_container: str | None
    containers: tuple[ContainerState, ...]
    init_containers: tuple[ContainerState, ...]
    deleting: bool
    deleted: bool = False
    seen: int = 0  # order in which the watcher first saw the pod (tie-breaker)
    deletion_grace_seconds: int | None = None  # the grace it was deleted with

    @classmethod
    def from_raw(cls, raw: dict[str, Any], seen: int = 0) -> PodState:
        metadata = raw.get("metadata") or {}
        spec = raw.get("spec") or {}
        status = raw.get("status") or {}
        labels = metadata.get("labels") or {}
        containers = spec.get("containers") or []
        return cls(
            name=metadata.get("name", ""),
            uid=metadata.get("uid", ""),
            job_name=next((labels[key] for key in JOB_NAME_LABELS if key in labels), None),
            job_uid=next((labels[key] for key in JOB_UID_LABELS if key in labels), None),
            created=metadata.get("creationTimestamp") or "",
            started=status.get("startTime"),
            phase=status.get("phase") or "Pending",
            reason=status.get("reason"),
            message=status.get("message"),
            conditions=_conditions(status.get("conditions")),
            first_container=containers[0].get("name")
            if containers and isinstance(containers[0], dict)
            else None,
            containers=tuple(
                ContainerState.from_raw(item)
                for item in status.get("containerStatuses") or []
                if isinstance(item, dict)
            ),
            init_containers=tuple(
                ContainerState.from_raw(item)
                for item in status.get("initContainerStatuses") or []
                if isinstance(item, dict)
            ),
            deleting=bool(metadata.get("deletionTimestamp")),
            seen=seen,
            deletion_grace_seconds=metadata.get("deletionGracePeriodSeconds"),
        )

    def as_deleted(self) -> PodState:
        return replace(self, deleted=True)

    def container(self, name: str | None) -> ContainerState | None:
        for container in self.containers:
            if container.name == name:
                return container
        return None

    @property
    def main(self) -> ContainerState | None:
        """The first container of the pod spec (the ``launchbay-job`` one)."""
        return self.container(self.first_container)

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def has_started(self, container: str | None) -> bool:
        """Whether the pod has begun its work: its phase has left Pending, or
        the container has (had) a process. The phase alone can lag: the
        kubelet sends only a pod's latest status, so under load a pod can go
        from Pending with its container waiting straight to Pending with it
        terminated (the Running in between never sent), and it keeps that
        Pending until it has torn the pod down and reports Succeeded or
        Failed: seconds later with 100 pods on a node (seen on v1.34)."""
        if self.phase != "Pending":
            return True
        state = self.container(container)
        return state is not None and state.has_started

    def condition(self, kind: str) -> Condition | None:
        for condition in self.conditions:
            if condition.type == kind:
                return condition
        return None

    @property
    def order(self) -> tuple[str, str, int]:
        # creationTimestamp has one-second precision; a pod that has not
        # started yet is newer than one that has; then the order seen.
        return (self.created, self.started or "~", self.seen)


def newest_pod(pods: Iterable[PodState]) -> PodState | None:
    """The most recently created pod."""
    return max(pods, key=lambda pod: pod.order, default=None)


def pods_in_order(pods: Iterable[PodState]) -> list[PodState]:
    return sorted(pods, key=lambda pod: pod.order)


# --- decisions ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobEnd:
    """How a job's wait ended."""

    succeeded: bool
    reason: str | None = None


def job_end(job: JobState) -> JobEnd | None:
    """Whether the job has finished: complete, failed, or out of retries."""
    if job.condition("Complete") or job.condition("SuccessCriteriaMet"):
        return JobEnd(succeeded=True)
    failed = job.condition("Failed")
    if failed:
        return JobEnd(succeeded=False, reason=_describe(failed.reason, failed.message))
    # The controller marks a failing job FailureTarget (with the real reason,
    # e.g. DeadlineExceeded) before its pods are gone and it becomes Failed.
    target = job.condition("FailureTarget")
    target_reason = _describe(target.reason, target.message) if target else None
    if job.backoff_limit is None:
        if job.failed > 0:
            return JobEnd(
                succeeded=False,
                reason=target_reason or "the pod failed and the job has no backoff limit",
            )
    elif job.failed > job.backoff_limit:
        return JobEnd(
            succeeded=False,
            reason=target_reason
            or f"BackoffLimitExceeded: {job.failed} failed pod(s), backoff limit {job.backoff_limit}",
        )
    return None


JOB_CONTROLLER = "kubernetes.io/job-controller"


def _single_pod_job(job: JobState) -> bool:
    """One completion, at most one pod at a time, run by the job controller,
    which nothing else (a deletion, suspension, active deadline) may end."""
    if job.deleting or job.suspended or job.active_deadline_seconds is not None:
        return False
    if job.managed_by not in (None, JOB_CONTROLLER):
        return False
    if (job.completions if job.completions is not None else 1) != 1:
        return False
    return (job.parallelism if job.parallelism is not None else 1) <= 1


def succeeded_early(job: JobState | None, pod: PodState | None) -> bool:
    """Whether the job is certain to complete before the job controller says
    so: a single-pod job (one completion, at most one pod at a time) whose
    newest pod has succeeded, its first container having exited 0.

    The job controller (which batches pod updates) adds up to a second before
    the Job's condition. (Failures: see ``failed_early``, which also counts
    the retries the backoff limit leaves.) Not decided here: a job that something else could
    still fail or end: being deleted, suspended, with an active deadline (the
    controller checks it before counting the success) or run by another
    controller."""
    if job is None or pod is None or pod.deleted or not _single_pod_job(job):
        return False
    if job.condition("Failed") or job.condition("FailureTarget"):
        return False
    main = pod.main
    return (
        pod.phase == "Succeeded" and main is not None and main.state == "terminated" and main.exit_code == 0
    )


def failed_early(job: JobState | None, pods: Iterable[PodState]) -> bool:
    """Whether the job is certain to fail before the job controller says so: a
    single-pod job with ``restartPolicy: Never`` whose newest pod has failed
    (its first container exited non-zero) and whose failed pods leave no retry
    under the backoff limit.

    The job controller takes seconds to count the failure and mark the job
    Failed; the pod's exit code is what the run reports either way. Not decided
    here: a pod failure policy (a rule may ignore the failure or end the job
    otherwise), per-index backoff limits, a pod being deleted (a kill)."""
    pods = list(pods)
    pod = newest_pod(pod for pod in pods if not pod.deleted)
    if job is None or pod is None or pod.deleting or not _single_pod_job(job):
        return False
    if job.restart_policy != "Never" or job.pod_failure_policy or job.backoff_limit_per_index is not None:
        return False
    if job.backoff_limit is None or job.condition("SuccessCriteriaMet") or job.condition("Complete"):
        return False
    main = pod.main
    if pod.phase != "Failed" or main is None or main.state != "terminated" or not main.exit_code:
        return False
    # The Job's count may lag the pods the watch shows, and pods removed
    # before the watch saw them are only in the Job's count: the larger.
    failures = max(job.failed, sum(1 for p in pods if p.phase == "Failed"))
    return failures > job.backoff_limit


@dataclass(frozen=True)
class Stuck:
    """Why a pod cannot start: the text for people, the exit reason for scripts."""

    reason: str
    exit_reason: ExitReason


def stuck_on(pod: PodState) -> Stuck | None:
    """What the pod is stuck on, if it is a cause it does not leave by itself:
    an image that cannot be pulled, an invalid image name, a missing secret or
    config map, no node to run on."""
    if pod.finished or pod.deleted:
        return None
    for container in (*pod.init_containers, *pod.containers):
        if container.state == "waiting" and container.reason in STUCK_WAITING_REASONS:
            if (container.message or "").startswith(_KUBELET_CACHE_HICCUP):
                continue  # the kubelet's own delay (a busy node): its next try says what is wrong
            return Stuck(
                _describe(container.reason, container.message), STUCK_WAITING_REASONS[container.reason]
            )
    scheduled = pod.condition("PodScheduled")
    if scheduled and scheduled.status == "False" and scheduled.reason == UNSCHEDULABLE:
        return Stuck(_describe(UNSCHEDULABLE, scheduled.message), ExitReason.UNSCHEDULABLE)
    return None


@dataclass(frozen=True)
class ExitStatus:
    """How a pod's first container ended: its exit code (None: it did not run
    to completion), why when that is more than a plain exit, and the exit
    reason."""

    code: int | None
    reason: str | None
    exit_reason: ExitReason = ExitReason.UNKNOWN


NO_EXIT_STATUS = ExitStatus(None, None, ExitReason.UNKNOWN)


def exit_status(pod: PodState) -> ExitStatus:
    """The exit code of the pod's first container, and why it ended when that
    is more than a plain exit: OOMKilled, a signal, eviction, a deadline."""
    container = pod.main
    terminated = container is not None and container.state == "terminated"
    code = container.exit_code if container is not None and terminated else None
    reasons: list[str] = []
    exit_reason = ExitReason.UNKNOWN if code is None else ExitReason.EXITED
    if container is not None and terminated:
        oom = container.reason == "OOMKilled"
        if oom:
            reasons.append("OOMKilled: the container ran out of memory")
            exit_reason = ExitReason.OOM_KILLED
        elif container.reason not in (None, "Completed", "Error"):
            reasons.append(_describe(container.reason, container.message))
        signal_number = container.signal or (code - 128 if code is not None and 128 < code < 160 else None)
        if signal_number and not oom:
            reasons.append(signal_name(signal_number))
            exit_reason = ExitReason.SIGNALED
    stopped_from_outside = False
    if pod.reason in EVICTION_POD_REASONS or pod.reason == DEADLINE_EXCEEDED:
        reasons.append(_describe(pod.reason, pod.message))
        stopped_from_outside = True
    disruption = pod.condition("DisruptionTarget")
    if disruption and disruption.true and disruption.reason:
        text = _describe(disruption.reason, disruption.message)
        if not any(disruption.reason in reason for reason in reasons):
            reasons.append(text)
        stopped_from_outside = True
    if stopped_from_outside and exit_reason is not ExitReason.OOM_KILLED:
        exit_reason = ExitReason.TIMED_OUT if pod.reason == DEADLINE_EXCEEDED else ExitReason.EVICTED
    return ExitStatus(code=code, reason="; ".join(reasons) or None, exit_reason=exit_reason)


def final_status(pod: PodState | None, end: JobEnd | None, *, deleted: bool) -> ExitStatus:
    """How the run of a job that ended (``end``, or ``deleted``) ended, from its
    newest pod: the pod's exit status, with what the job adds to it."""
    status = exit_status(pod) if pod is not None else NO_EXIT_STATUS
    job_reason = end.reason if end else None
    if job_reason and job_reason.startswith("BackoffLimitExceeded") and status.code is not None:
        job_reason = None  # the exit code says why; "out of retries" adds nothing
    reasons = [r for r in (status.reason, job_reason) if r]
    if deleted:
        reasons.append("the job was deleted")
    exit_reason = status.exit_reason
    if exit_reason in (ExitReason.EXITED, ExitReason.SIGNALED, ExitReason.UNKNOWN):
        if job_reason and job_reason.startswith(DEADLINE_EXCEEDED):
            exit_reason = ExitReason.TIMED_OUT  # the job's activeDeadlineSeconds
        elif deleted and (exit_reason is not ExitReason.EXITED or _stopped_by_deletion(pod)):
            exit_reason = ExitReason.CANCELLED  # deleted (killed) while it ran
    return ExitStatus(status.code, "; ".join(reasons) or None, exit_reason)


def _stopped_by_deletion(pod: PodState | None) -> bool:
    """Whether the pod was deleted, so its exit (even a clean one, by a
    program that handles SIGTERM) followed the deletion."""
    return pod is not None and (pod.deleting or pod.deleted)


def _describe(reason: str | None, message: str | None) -> str:
    reason = reason or "Unknown"
    return f"{reason}: {message}" if message else reason
