"""Decisions made from job and pod states (pure logic, raw API objects)."""

from __future__ import annotations

from typing import Any

from launchbay._internal.kubernetes.state import (
    JobState,
    PodState,
    exit_status,
    job_end,
    newest_pod,
    stuck_reason,
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
    for reason in [
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "ErrImageNeverPull",
    ]:
        pod = PodState.from_raw(raw_pod(container={"waiting": {"reason": reason, "message": "details"}}))
        assert stuck_reason(pod) == f"{reason}: details"
    creating = PodState.from_raw(raw_pod(container={"waiting": {"reason": "ContainerCreating"}}))
    assert stuck_reason(creating) is None
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
    assert stuck_reason(unschedulable) == "Unschedulable: 0/1 nodes are available: 1 Insufficient memory."
    init = raw_pod()
    init["status"]["initContainerStatuses"] = [
        {"name": "init", "state": {"waiting": {"reason": "ErrImagePull"}}}
    ]
    assert stuck_reason(PodState.from_raw(init)) == "ErrImagePull"
    finished = PodState.from_raw(raw_pod(phase="Failed", container={"waiting": {"reason": "ErrImagePull"}}))
    assert stuck_reason(finished) is None


def test_exit_status() -> None:
    ok = exit_status(
        PodState.from_raw(
            raw_pod(phase="Succeeded", container={"terminated": {"exitCode": 0, "reason": "Completed"}})
        )
    )
    assert (ok.code, ok.reason) == (0, None)
    three = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 3, "reason": "Error"}})
        )
    )
    assert (three.code, three.reason) == (3, None)
    oom = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
        )
    )
    assert oom.code == 137 and oom.reason == "OOMKilled: the container ran out of memory"
    killed = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", container={"terminated": {"exitCode": 143, "reason": "Error"}})
        )
    )
    assert killed.reason == "SIGTERM"
    evicted = exit_status(
        PodState.from_raw(
            raw_pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
        )
    )
    assert evicted.code is None and evicted.reason == "Evicted: The node was low on resource: memory."
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
    assert preempted.reason == "PreemptionByScheduler: preempted"
    running = exit_status(PodState.from_raw(raw_pod(phase="Running", container={"running": {}})))
    assert running.code is None


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
