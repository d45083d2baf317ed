"""Decisions made from job and pod states (pure logic, raw API objects)."""

from __future__ import annotations

from typing import Any

from launchbay._internal.exits import ExitReason
from launchbay._internal.kubernetes.state import (
    ExitStatus,
    JobEnd,
    JobState,
    PodState,
    Stuck,
    exit_status,
    failed_early,
    final_status,
    job_end,
    newest_pod,
    stuck_on,
    succeeded_early,
)


def raw_job(
    *,
    backoff: int | None = 6,
    failed: int = 0,
    conditions: list[dict[str, Any]] | None = None,
    spec: dict[str, Any] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    spec = {**({} if backoff is None else {"backoffLimit": backoff}), **(spec or {})}
    metadata: dict[str, Any] = {"name": "j", "uid": "u1"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:09Z"
    return {
        "metadata": metadata,
        "spec": spec,
        "status": {"failed": failed, "conditions": conditions or []},
    }


def raw_pod(
    name: str = "j-abc",
    *,
    created: str = "2026-01-01T00:00:00Z",
    started: str | None = None,
    phase: str = "Pending",
    container: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if started:
        status["startTime"] = started
    if container is not None:
        status["containerStatuses"] = [{"name": "launchbay-job", "state": container}]
    if reason:
        status["reason"] = reason
        status["message"] = message
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "labels": {
                "batch.kubernetes.io/job-name": "j",
                "batch.kubernetes.io/controller-uid": "u1",
                "job-name": "j",
            },
        },
        "spec": {"containers": [{"name": "launchbay-job"}, {"name": "sidecar"}]},
        "status": status,
    }


def test_job_state_fields() -> None:
    job = JobState.from_raw(raw_job(failed=2))
    assert (job.name, job.uid, job.backoff_limit, job.failed) == ("j", "u1", 6, 2)
    pod = PodState.from_raw(raw_pod())
    assert (pod.job_name, pod.job_uid, pod.first_container) == ("j", "u1", "launchbay-job")
    old_style = raw_pod()
    old_style["metadata"]["labels"] = {"job-name": "j", "controller-uid": "u1"}
    assert PodState.from_raw(old_style).job_uid == "u1"


def test_job_end() -> None:
    assert job_end(JobState.from_raw(raw_job())) is None
    done = job_end(JobState.from_raw(raw_job(conditions=[{"type": "Complete", "status": "True"}])))
    assert done is not None and done.succeeded
    failed = job_end(
        JobState.from_raw(
            raw_job(
                conditions=[
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "DeadlineExceeded",
                        "message": "Job was active longer than specified deadline",
                    }
                ]
            )
        )
    )
    assert failed is not None and not failed.succeeded
    assert failed.reason == "DeadlineExceeded: Job was active longer than specified deadline"
    # Out of retries, before the controller says so.
    assert job_end(JobState.from_raw(raw_job(backoff=1, failed=1))) is None
    over = job_end(JobState.from_raw(raw_job(backoff=1, failed=2)))
    assert over is not None and "BackoffLimitExceeded" in (over.reason or "")
    # The real reason is known before the Failed condition comes.
    target = job_end(
        JobState.from_raw(
            raw_job(
                backoff=0,
                failed=1,
                conditions=[
                    {
                        "type": "FailureTarget",
                        "status": "True",
                        "reason": "DeadlineExceeded",
                        "message": "too long",
                    }
                ],
            )
        )
    )
    assert target is not None and target.reason == "DeadlineExceeded: too long"
    # No backoff limit: any failure ends it.
    assert job_end(JobState.from_raw(raw_job(backoff=None, failed=1))) is not None
    # A condition that is not True does not count.
    assert job_end(JobState.from_raw(raw_job(conditions=[{"type": "Complete", "status": "False"}]))) is None


def test_a_pod_has_started_when_its_phase_or_its_container_says_so() -> None:
    def started(phase: str, container: dict[str, Any] | None, name: str = "launchbay-job") -> bool:
        return PodState.from_raw(raw_pod(phase=phase, container=container)).has_started(name)

    assert not started("Pending", None)
    assert not started("Pending", {"waiting": {"reason": "ContainerCreating"}})
    assert started("Running", {"running": {}})
    assert started("Succeeded", {"terminated": {"exitCode": 0}})
    # The kubelet's phase lags: its container runs, or has even ended.
    assert started("Pending", {"running": {}})
    assert started("Pending", {"terminated": {"exitCode": 3}})
    # Another container's state does not count.
    assert not started("Pending", {"running": {}}, name="sidecar")


def test_newest_pod_by_creation_then_start_then_seen() -> None:
    first = PodState.from_raw(
        raw_pod("a", created="2026-01-01T00:00:00Z", started="2026-01-01T00:00:00Z"), seen=1
    )
    second = PodState.from_raw(raw_pod("b", created="2026-01-01T00:00:05Z"), seen=2)
    assert newest_pod([second, first]) is second
    # Same second: the one not started yet is the newer.
    retry = PodState.from_raw(raw_pod("0-retry", created="2026-01-01T00:00:00Z"), seen=3)
    assert newest_pod([first, retry]) is retry
    assert newest_pod([]) is None


def test_stuck_reasons() -> None:
    for reason, exit_reason in [
        ("ErrImagePull", ExitReason.IMAGE_PULL_FAILED),
        ("ImagePullBackOff", ExitReason.IMAGE_PULL_FAILED),
        ("InvalidImageName", ExitReason.IMAGE_PULL_FAILED),
        ("CreateContainerConfigError", ExitReason.CONFIG_ERROR),
        ("ErrImageNeverPull", ExitReason.IMAGE_PULL_FAILED),
    ]:
        pod = PodState.from_raw(raw_pod(container={"waiting": {"reason": reason, "message": "details"}}))
        assert stuck_on(pod) == Stuck(f"{reason}: details", exit_reason)
    creating = PodState.from_raw(raw_pod(container={"waiting": {"reason": "ContainerCreating"}}))
    assert stuck_on(creating) is None
    # A busy kubelet's cache lagging is not the pod's configuration: its next try tells.
    lagging = {
        "waiting": {
            "reason": "CreateContainerConfigError",
            "message": "failed to sync secret cache: timed out waiting for the condition",
        }
    }
    assert stuck_on(PodState.from_raw(raw_pod(container=lagging))) is None
    unschedulable = PodState.from_raw(
        raw_pod(
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient memory.",
                }
            ]
        )
    )
    assert stuck_on(unschedulable) == Stuck(
        "Unschedulable: 0/1 nodes are available: 1 Insufficient memory.", ExitReason.UNSCHEDULABLE
    )
    init = raw_pod()
    init["status"]["initContainerStatuses"] = [
        {"name": "init", "state": {"waiting": {"reason": "ErrImagePull"}}}
    ]
    assert stuck_on(PodState.from_raw(init)) == Stuck("ErrImagePull", ExitReason.IMAGE_PULL_FAILED)
    finished = PodState.from_raw(raw_pod(phase="Failed", container={"waiting": {"reason": "ErrImagePull"}}))
    assert stuck_on(finished) is None


def test_exit_status() -> None:
    ok = exit_status(
        PodState.from_raw(
            raw_pod(phase="Succeeded", container={"terminated": {"exitCode": 0, "reason": "Completed"}})
        )
    )
    assert ok == ExitStatus(0, None, ExitReason.EXITED)
    three = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 3, "reason": "Error"}})
        )
    )
    assert three == ExitStatus(3, None, ExitReason.EXITED)
    oom = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
        )
    )
    assert oom == ExitStatus(137, "OOMKilled: the container ran out of memory", ExitReason.OOM_KILLED)
    killed = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 143, "reason": "Error"}})
        )
    )
    assert killed == ExitStatus(143, "SIGTERM", ExitReason.SIGNALED)
    by_number = exit_status(
        PodState.from_raw(
            raw_pod(
                phase="Failed", container={"terminated": {"exitCode": 1, "signal": 99, "reason": "Error"}}
            )
        )
    )
    assert by_number == ExitStatus(1, "signal 99", ExitReason.SIGNALED)
    evicted = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
        )
    )
    assert evicted == ExitStatus(None, "Evicted: The node was low on resource: memory.", ExitReason.EVICTED)
    deadline = exit_status(
        PodState.from_raw(
            raw_pod(
                phase="Failed",
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline",
                container={"terminated": {"exitCode": 137, "reason": "Error"}},
            )
        )
    )
    assert deadline.code == 137 and "DeadlineExceeded: Pod was active" in (deadline.reason or "")
    assert deadline.exit_reason is ExitReason.TIMED_OUT
    preempted = exit_status(
        PodState.from_raw(
            raw_pod(
                phase="Failed",
                conditions=[
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "PreemptionByScheduler",
                        "message": "preempted",
                    }
                ],
            )
        )
    )
    assert preempted == ExitStatus(None, "PreemptionByScheduler: preempted", ExitReason.EVICTED)
    running = exit_status(PodState.from_raw(raw_pod(phase="Running", container={"running": {}})))
    assert running == ExitStatus(None, None, ExitReason.UNKNOWN)


def test_final_status_adds_what_the_job_says() -> None:
    def pod(code: int, reason: str = "Error") -> PodState:
        return PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": code, "reason": reason}})
        )

    out_of_retries = JobEnd(False, "BackoffLimitExceeded: 2 failed pod(s), backoff limit 1")
    # The exit code says why: "out of retries" adds nothing.
    assert final_status(pod(4), out_of_retries, deleted=False) == ExitStatus(4, None, ExitReason.EXITED)
    # No pod ran to completion: the job's reason is all there is.
    assert final_status(None, out_of_retries, deleted=False) == ExitStatus(
        None, out_of_retries.reason, ExitReason.UNKNOWN
    )
    # The job's deadline ended it: timed out, whatever signal the pod got.
    deadline = JobEnd(False, "DeadlineExceeded: Job was active longer than specified deadline")
    assert final_status(pod(143), deadline, deleted=False) == ExitStatus(
        143, "SIGTERM; DeadlineExceeded: Job was active longer than specified deadline", ExitReason.TIMED_OUT
    )
    assert final_status(None, deadline, deleted=False).exit_reason is ExitReason.TIMED_OUT
    # Deleted while it ran (launchbay kill): cancelled; a pod that had exited by itself keeps its exit.
    assert final_status(pod(137), None, deleted=True) == ExitStatus(
        137, "SIGKILL; the job was deleted", ExitReason.CANCELLED
    )
    assert final_status(None, None, deleted=True) == ExitStatus(
        None, "the job was deleted", ExitReason.CANCELLED
    )
    assert final_status(pod(3), None, deleted=True) == ExitStatus(3, "the job was deleted", ExitReason.EXITED)
    # A pod that was deleted too exited because of the deletion, even cleanly
    # (a program that handles SIGTERM): cancelled.
    deleting = PodState.from_raw(
        {
            **raw_pod(phase="Failed", container={"terminated": {"exitCode": 0, "reason": "Completed"}}),
            "metadata": {"name": "j-abc", "deletionTimestamp": "2026-01-01T00:00:09Z"},
        }
    )
    assert final_status(deleting, None, deleted=True) == ExitStatus(
        0, "the job was deleted", ExitReason.CANCELLED
    )
    assert final_status(deleting.as_deleted(), None, deleted=True).exit_reason is ExitReason.CANCELLED
    assert final_status(deleting, None, deleted=False).exit_reason is ExitReason.EXITED
    # An OOM kill stays one, deadline or not.
    assert final_status(pod(137, "OOMKilled"), deadline, deleted=False).exit_reason is ExitReason.OOM_KILLED
    ok = PodState.from_raw(raw_pod(phase="Succeeded", container={"terminated": {"exitCode": 0}}))
    assert final_status(ok, JobEnd(True), deleted=False) == ExitStatus(0, None, ExitReason.EXITED)


def test_a_single_pod_job_has_succeeded_when_its_pod_has() -> None:
    exited = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    succeeded = PodState.from_raw(raw_pod(phase="Succeeded", container=exited))

    def early(spec: dict[str, Any] | None = None, pod: PodState | None = succeeded, **job: Any) -> bool:
        return succeeded_early(JobState.from_raw(raw_job(spec=spec, **job)), pod)

    # completions and parallelism unset (1), or 1, or fewer pods at a time.
    assert early()
    assert early({"completions": 1, "parallelism": 1})
    assert early({"completions": 1, "parallelism": 0, "completionMode": "Indexed"})
    assert early({"managedBy": "kubernetes.io/job-controller"})
    # More than one completion, or pods in parallel: one success is not the end.
    assert not early({"completions": 2})
    assert not early({"parallelism": 2})
    assert not early({"completions": None, "parallelism": 3})
    # Something else may still fail or end the job: the Job's verdict decides.
    assert not early({"activeDeadlineSeconds": 60})
    assert not early({"suspend": True})
    assert not early({"managedBy": "example.com/another-controller"})
    assert not early(deleting=True)
    assert not early(conditions=[{"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"}])
    assert not early(conditions=[{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}])
    # The job not known yet, or no pod.
    assert not succeeded_early(None, succeeded)
    assert not early(pod=None)
    # The pod has not succeeded: running, or ended otherwise (a retry may follow).
    running = {"running": {"startedAt": "2026-01-01T00:00:01Z"}}
    assert not early(pod=PodState.from_raw(raw_pod(phase="Running", container=running)))
    assert not early(pod=PodState.from_raw(raw_pod(phase="Running", container=exited)))
    failed = {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert not early(pod=PodState.from_raw(raw_pod(phase="Failed", container=failed)))
    # Succeeded, but no exit status 0 for the first container, or a pod deleted.
    assert not early(pod=PodState.from_raw(raw_pod(phase="Succeeded")))
    assert not early(
        pod=PodState.from_raw(raw_pod(phase="Succeeded", container={"terminated": {"exitCode": 2}}))
    )
    assert not early(pod=succeeded.as_deleted())


def test_a_single_pod_job_has_failed_when_its_pod_failed_with_no_retry_left() -> None:
    exited = {"terminated": {"exitCode": 3, "reason": "Error"}}
    never = {"template": {"spec": {"restartPolicy": "Never"}}}

    def failed_pod(name: str = "j-abc", created: str = "2026-01-01T00:00:00Z", **kwargs: Any) -> PodState:
        return PodState.from_raw(
            raw_pod(name, created=created, phase=kwargs.pop("phase", "Failed"), container=exited, **kwargs)
        )

    def early(
        spec: dict[str, Any] | None = None,
        pods: list[PodState] | None = None,
        backoff: int | None = 0,
        **job: Any,
    ) -> bool:
        raw = raw_job(spec={**never, **(spec or {})}, backoff=backoff, **job)
        return failed_early(JobState.from_raw(raw), [failed_pod()] if pods is None else pods)

    # Backoff limit 0: the one failed pod is the last.
    assert early()
    # A retry is left: the Job decides (a new pod may come).
    assert not early(backoff=1)
    assert not early(backoff=None)
    # ... until the failures (the pods seen, or the Job's count) use it up.
    second = failed_pod("j-def", created="2026-01-01T00:00:05Z")
    assert early(backoff=1, pods=[failed_pod().as_deleted(), second])
    assert early(backoff=1, failed=2, pods=[second])
    assert not early(backoff=1, failed=1, pods=[second])  # the count may be this pod's
    # Something else may decide: a pod failure policy, per-index limits, a
    # restart policy that restarts in place, a deadline, a deletion.
    assert not early({"podFailurePolicy": {"rules": []}})
    assert not early({"backoffLimitPerIndex": 0, "completionMode": "Indexed"})
    assert not early({"template": {"spec": {"restartPolicy": "OnFailure"}}})
    assert not early({"activeDeadlineSeconds": 60})
    assert not early({"completions": 2})
    assert not early(deleting=True)
    being_deleted = raw_pod(phase="Failed", container=exited)
    being_deleted["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:09Z"
    assert not early(pods=[PodState.from_raw(being_deleted)])
    # The pod has not failed with an exit code: running, or never ran.
    running = PodState.from_raw(raw_pod(phase="Running", container={"running": {}}))
    assert not early(pods=[running])
    assert not early(pods=[PodState.from_raw(raw_pod(phase="Failed", reason="Evicted"))])
    assert not early(pods=[])
    assert not failed_early(None, [failed_pod()])
    # The run reports the pod's exit code, as after the Job's verdict.
    assert final_status(failed_pod(), JobEnd(False), deleted=False) == ExitStatus(3, None, ExitReason.EXITED)
