"""KubernetesJob against the real dev cluster: jobs created, watched, streamed,
killed and attached to, failures named (SPEC 7.4 and 12)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import anyio
import pytest

from launchbay import (
    ExitReason,
    FlowRun,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
    KubernetesClusterConfig,
    KubernetesJob,
    KubernetesJobResult,
)
from launchbay._internal.kubernetes import api as kube_api
from tests.infrastructure.kubernetes_fixtures import (  # noqa: F401 - fixtures
    IMAGE,
    ROOT,
    Cluster,
    cluster,
    make_job,
    make_namespace,
    namespace,
)
from tests.netproxy import ForwardingProxy
from tests.runs import run_while

pytestmark = [pytest.mark.kubernetes, pytest.mark.timeout(180)]


def job_name(result: KubernetesJobResult) -> str:
    return result.identifier.rsplit(":", 1)[1]


def counts() -> Counter[str]:
    return Counter(kube_api.request_counts)


# --- running ----------------------------------------------------------------------


def test_exit_codes_identifier_and_streamed_output(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # The runtime reads stdout and stderr separately: lines written to both in
    # the same instant may land in the log in either order, hence the pause.
    ok = make_job(["sh", "-c", "echo hello; sleep 0.2; echo world >&2"]).run()
    assert isinstance(ok, KubernetesJobResult) and ok.status_code == 0 and ok and ok.reason is None
    assert ok.exit_reason is ExitReason.EXITED
    failed = make_job(["sh", "-c", "echo hi; printf 'last line without newline'; exit 3"]).run()
    assert failed.status_code == 3 and not failed and failed.reason is None
    assert failed.exit_reason is ExitReason.EXITED
    uid, ns, name = failed.identifier.split(":")
    assert (uid, ns) == (cluster.uid, namespace) and name.startswith("launchbay-job-")
    out = capfd.readouterr().out
    # stdout and stderr of the container are one log; every byte, in order.
    assert out == "hello\nworld\nhi\nlast line without newline"
    quiet = make_job(["sh", "-c", "echo not shown"], stream_output=False).run()
    assert quiet.status_code == 0 and capfd.readouterr().out == ""


def test_pod_phases_are_logged(make_job: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="launchbay.infrastructure.kubernetes-job")
    result = make_job(["sh", "-c", "sleep 2"]).run()
    name = job_name(result)
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith(f"Job {name!r} created in namespace") for m in messages)
    assert any(m.startswith(f"Job {name!r}: Pod ") and m.endswith("has status 'Pending'.") for m in messages)
    assert any(m.endswith("has status 'Running'.") for m in messages)
    assert any(m.endswith("has status 'Succeeded'.") for m in messages)
    assert f"Job {name!r} completed." in messages


def test_started_reports_the_pid_before_the_end(make_job: Any) -> None:
    async def main() -> tuple[str, KubernetesJobResult, bool]:
        results: list[KubernetesJobResult] = []
        job = make_job(["sh", "-c", "sleep 2"])
        async with anyio.create_task_group() as tg:

            async def runner(*, task_status: Any) -> None:
                results.append(await job.run(task_status=task_status))

            pid = await tg.start(runner)
            finished_before_pid = bool(results)
        return pid, results[0], finished_before_pid

    pid, result, finished_before_pid = anyio.run(main)
    assert pid == result.identifier and not finished_before_pid and result.status_code == 0


def test_job_as_the_api_returns_it(cluster: Cluster, namespace: str, make_job: Any) -> None:
    from kubernetes import client

    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
    )
    flow_run = FlowRun(name="calm-otter")
    job = make_job(
        ["sh", "-c", "echo $GREETING"],
        name="Nightly_ETL.run",
        labels={"Team.Example.COM/owner": "Data Science", "stamp": "2022-11-10T16:50:59.5Z"},
        env={"GREETING": "hi", "UNSET": None},
        service_account_name="robot",
        finished_job_ttl=600,
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/resources",
                "value": {"limits": {"memory": "64Mi", "cpu": "250m"}, "requests": {"memory": "32Mi"}},
            },
        ],
    ).prepare_for_flow_run(flow_run)
    job = job.model_copy(update={"name": "Nightly_ETL.run"})
    result = job.run()
    assert result.status_code == 0
    created = cluster.job(namespace, job_name(result))
    assert created is not None
    assert created.metadata.namespace == namespace
    assert created.metadata.generate_name == "nightly-etl-run-"
    assert created.metadata.name.startswith("nightly-etl-run-")
    labels = created.metadata.labels
    assert labels["team.example.com/owner"] == "Data-Science"
    assert labels["stamp"] == "2022-11-10T16-50-59.5Z"
    assert labels["launchbay.io/flow-run-id"] == str(flow_run.id)
    assert labels["launchbay.io/flow-run-name"] == "calm-otter"
    assert created.spec.ttl_seconds_after_finished == 600
    pod_spec = created.spec.template.spec
    assert pod_spec.service_account_name == "robot"
    container = pod_spec.containers[0]
    assert container.name == "launchbay-job" and container.image == IMAGE
    assert container.image_pull_policy == "IfNotPresent"
    assert container.args == ["sh", "-c", "echo $GREETING"]
    env = {item.name: item.value for item in container.env}
    assert env["GREETING"] == "hi" and "UNSET" not in env
    assert env["LAUNCHBAY__FLOW_RUN_ID"] == flow_run.id.hex
    assert container.resources.limits == {"memory": "64Mi", "cpu": "250m"}
    assert container.resources.requests == {"memory": "32Mi"}
    pod = cluster.pods(namespace, created.metadata.name)[0]
    assert pod.spec.service_account_name == "robot"
    assert pod.spec.containers[0].resources.limits == {"memory": "64Mi", "cpu": "250m"}


def test_cluster_uid_from_the_setting(monkeypatch: pytest.MonkeyPatch, namespace: str, make_job: Any) -> None:
    monkeypatch.setenv("LAUNCHBAY_KUBERNETES_CLUSTER_UID", "my-cluster")
    result = make_job(["true"]).run()
    assert result.identifier.startswith(f"my-cluster:{namespace}:")
    # kill compares pids with the same setting: this job is reachable.
    with pytest.raises(InfrastructureNotFound):
        make_job(["true"]).kill(f"my-cluster:{namespace}:no-such-job", grace_seconds=0)


def test_cluster_config_block(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, make_job: Any) -> None:
    block = KubernetesClusterConfig.from_file(cluster.kubeconfig)
    from kubernetes import client

    assert client.CoreV1Api(block.get_api_client()).read_namespace("kube-system").metadata.uid == cluster.uid
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")  # only the block can reach the cluster
    result = make_job(["sh", "-c", "exit 0"], cluster_config=block).run()
    assert result.status_code == 0 and result.identifier.startswith(cluster.uid)


def test_watch_timeout(
    cluster: Cluster, namespace: str, make_job: Any, caplog: pytest.LogCaptureFixture
) -> None:
    result = make_job(["sh", "-c", "echo started; sleep 60"], job_watch_timeout_seconds=2).run()
    assert result.status_code == -1 and "did not complete within 2 s" in (result.reason or "")
    assert result.exit_reason is ExitReason.TIMED_OUT and result.still_running
    assert "did not complete within timeout of 2 s" in caplog.text
    # The job is left to run (and can be attached to, or killed).
    assert cluster.job(namespace, job_name(result)) is not None
    KubernetesJob(namespace=namespace).kill(result.identifier, grace_seconds=0)


def test_backoff_limit_reached(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(
        ["sh", "-c", "echo attempt; exit 4"],
        customizations=[{"op": "replace", "path": "/spec/backoffLimit", "value": 1}],
    )
    result = job.run()
    assert result.status_code == 4
    assert len(cluster.pods(namespace, job_name(result))) == 2
    assert capfd.readouterr().out == "attempt\nattempt\n"  # each attempt's log


def test_deadline_exceeded_is_named(make_job: Any) -> None:
    result = make_job(
        ["sh", "-c", "sleep 60"],
        customizations=[{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 2}],
    ).run()
    assert result.status_code != 0
    assert "DeadlineExceeded" in (result.reason or "")
    assert result.exit_reason is ExitReason.TIMED_OUT


def test_oom_killed_is_named(make_job: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = make_job(
        ["sh", "-c", "x=$(yes | head -c 400000000); echo survived"],
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/resources",
                "value": {"limits": {"memory": "24Mi"}},
            }
        ],
    ).run()
    assert result.status_code == 137
    assert "OOMKilled" in (result.reason or "")
    assert result.exit_reason is ExitReason.OOM_KILLED
    assert "OOMKilled" in caplog.text


def test_eviction_is_named(cluster: Cluster, namespace: str, make_job: Any) -> None:
    from kubernetes import client

    async def evict(pid: str) -> None:
        name = pid.rsplit(":", 1)[1]
        pods = await anyio.to_thread.run_sync(
            lambda: cluster.wait_for(
                "the pod to run",
                lambda: [p for p in cluster.pods(namespace, name) if p.status.phase == "Running"],
            )
        )
        pod = pods[0].metadata.name
        await anyio.to_thread.run_sync(
            lambda: cluster.core.create_namespaced_pod_eviction(
                pod, namespace, client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
            )
        )

    _, result, _ = run_while(make_job(["sh", "-c", "echo running; sleep 120"]), evict)
    assert result.status_code != 0
    assert "EvictionByEvictionAPI" in (result.reason or "")
    assert result.exit_reason is ExitReason.EVICTED


def limited_cluster_config(cluster: Cluster, namespace: str, *, pod_logs: bool) -> KubernetesClusterConfig:
    """A kubeconfig for a service account that may only manage jobs and read
    pods in ``namespace`` (and read pod logs only if ``pod_logs``)."""
    from kubernetes import client

    name = f"limited-{'logs' if pod_logs else 'nologs'}"
    rbac = client.RbacAuthorizationV1Api(cluster.core.api_client)
    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )
    rules = [
        client.V1PolicyRule(
            api_groups=["batch"], resources=["jobs"], verbs=["create", "get", "list", "watch", "delete"]
        ),
        client.V1PolicyRule(
            api_groups=[""], resources=["pods"], verbs=["get", "list", "watch", "delete", "deletecollection"]
        ),
    ]
    if pod_logs:
        rules.append(client.V1PolicyRule(api_groups=[""], resources=["pods/log"], verbs=["get"]))
    rbac.create_namespaced_role(
        namespace, client.V1Role(metadata=client.V1ObjectMeta(name=name), rules=rules)
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        ),
    )
    token = cluster.core.create_namespaced_service_account_token(
        name,
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        ),
    ).status.token
    admin = KubernetesClusterConfig.from_file(cluster.kubeconfig)
    cluster_entry = next(c for c in admin.config["clusters"] if c["cluster"]["server"] == admin.server)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster_entry],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": cluster_entry["name"], "user": name, "namespace": namespace},
            }
        ],
        "current-context": name,
    }
    return KubernetesClusterConfig(config=config, context_name=name)


def test_least_privilege_and_a_forbidden_log_is_only_a_warning(
    cluster: Cluster,
    namespace: str,
    make_job: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    no_logs = limited_cluster_config(cluster, namespace, pod_logs=False)
    # Reading the cluster UID needs the kube-system namespace: a clear error says what to do.
    from launchbay.exceptions import InfrastructureError

    with pytest.raises(InfrastructureError, match="LAUNCHBAY_KUBERNETES_CLUSTER_UID"):
        make_job(["true"], cluster_config=no_logs).run()
    monkeypatch.setenv("LAUNCHBAY_KUBERNETES_CLUSTER_UID", cluster.uid)
    # Jobs and pods are all a run needs; without pods/log the log is a warning.
    with pytest.warns(UserWarning, match="Cannot stream the log of pod"):  # SPEC 8: "warn"
        result = make_job(["sh", "-c", "echo secret output; exit 3"], cluster_config=no_logs).run()
    assert result.status_code == 3
    assert "Cannot stream the log of pod" in caplog.text and "forbidden" in caplog.text.lower()
    assert capfd.readouterr().out == ""
    with_logs = limited_cluster_config(cluster, namespace, pod_logs=True)
    assert make_job(["sh", "-c", "echo visible"], cluster_config=with_logs).run().status_code == 0
    assert capfd.readouterr().out == "visible\n"


# --- failing fast --------------------------------------------------------------------


def test_missing_image_fails_fast_with_the_reason(
    cluster: Cluster, namespace: str, make_job: Any, caplog: pytest.LogCaptureFixture
) -> None:
    result = make_job(["true"], image="launchbay-test/no-such-image:1.0", pod_failure_grace_seconds=1).run()
    assert result.status_code == -1
    assert any(reason in (result.reason or "") for reason in ("ErrImagePull", "ImagePullBackOff"))
    assert result.exit_reason is ExitReason.IMAGE_PULL_FAILED
    assert "cannot start" in caplog.text and "launchbay-test/no-such-image:1.0" in caplog.text
    # The job is deleted: it could never run.
    cluster.wait_for("the job to be deleted", lambda: cluster.job(namespace, job_name(result)) is None)


def test_image_never_pulled_fails_fast(make_job: Any) -> None:
    result = make_job(
        ["true"],
        image="launchbay-test/no-such-image:1.0",
        image_pull_policy="Never",
        pod_failure_grace_seconds=0,
    ).run()
    assert result.status_code == -1 and "ErrImageNeverPull" in (result.reason or "")
    assert result.exit_reason is ExitReason.IMAGE_PULL_FAILED


def test_invalid_image_name_fails_fast(make_job: Any) -> None:
    result = make_job(["true"], image="launchbay-test/UPPER:case", pod_failure_grace_seconds=0).run()
    assert result.status_code == -1 and "InvalidImageName" in (result.reason or "")
    assert result.exit_reason is ExitReason.IMAGE_PULL_FAILED


def test_missing_secret_fails_fast(make_job: Any) -> None:
    result = make_job(
        ["true"],
        pod_failure_grace_seconds=1,
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/env/-",
                "value": {
                    "name": "TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "no-such-secret", "key": "token"}},
                },
            }
        ],
    ).run()
    assert result.status_code == -1 and "CreateContainerConfigError" in (result.reason or "")
    assert "no-such-secret" in (result.reason or "")
    assert result.exit_reason is ExitReason.CONFIG_ERROR


def test_unschedulable_fails_fast(make_job: Any) -> None:
    result = make_job(
        ["true"],
        pod_failure_grace_seconds=1,
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/nodeSelector",
                "value": {"launchbay.io/no-such-node": "x"},
            }
        ],
    ).run()
    assert result.status_code == -1 and (result.reason or "").startswith("Unschedulable")
    assert result.exit_reason is ExitReason.UNSCHEDULABLE


def test_pod_never_started_without_fail_fast(make_job: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = make_job(
        ["true"],
        pod_failure_grace_seconds=None,
        pod_watch_timeout_seconds=3,
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/nodeSelector",
                "value": {"launchbay.io/no-such-node": "x"},
            }
        ],
    ).run()
    assert result.status_code == -1
    assert "did not start within 3 s" in (result.reason or "") and "Unschedulable" in (result.reason or "")
    assert result.exit_reason is ExitReason.TIMED_OUT
    assert "Pod never started" in caplog.text


# --- kill ----------------------------------------------------------------------------------


def test_kill_from_another_process(cluster: Cluster, namespace: str, make_job: Any) -> None:
    async def kill_once_running(pid: str) -> subprocess.CompletedProcess[str]:
        # Once it runs, kill it from another process, as a user would.
        await anyio.to_thread.run_sync(
            lambda: cluster.wait_for(
                "the pod to run",
                lambda: any(
                    p.status.phase == "Running" for p in cluster.pods(namespace, pid.rsplit(":", 1)[1])
                ),
            )
        )
        return await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [sys.executable, "-m", "launchbay.cli", "kill", pid, "--grace", "1"],
                capture_output=True,
                text=True,
                timeout=120,
            )
        )

    pid, result, killed = run_while(make_job(["sh", "-c", "echo running; sleep 120"]), kill_once_running)
    assert killed.returncode == 0, killed.stderr
    name = pid.rsplit(":", 1)[1]
    # kill returns once the job and its pods are gone.
    assert cluster.job(namespace, name) is None
    assert cluster.pods(namespace, name) == []
    assert result.status_code != 0 and "the job was deleted" in (result.reason or "")
    assert result.exit_reason is ExitReason.CANCELLED


def test_kill_and_attach_unreachable_or_missing(cluster: Cluster, namespace: str) -> None:
    job = KubernetesJob(namespace=namespace)
    with pytest.raises(InfrastructureNotAvailable, match="namespace"):
        job.kill(f"{cluster.uid}:other-namespace:some-job")
    with pytest.raises(InfrastructureNotAvailable, match="cluster"):
        job.kill(f"not-this-cluster:{namespace}:some-job")
    with pytest.raises(InfrastructureNotFound):
        job.kill(f"{cluster.uid}:{namespace}:no-such-job")
    with pytest.raises(InfrastructureNotAvailable, match="namespace"):
        job.attach(f"{cluster.uid}:other-namespace:some-job")
    with pytest.raises(InfrastructureNotAvailable, match="cluster"):
        job.attach(f"not-this-cluster:{namespace}:some-job")
    with pytest.raises(InfrastructureNotFound):
        job.attach(f"{cluster.uid}:{namespace}:no-such-job")
    # Not a Kubernetes pid at all: not one this kind can reach (SPEC 8).
    with pytest.raises(InfrastructureNotAvailable, match="CLUSTER_UID:NAMESPACE:JOB_NAME"):
        job.kill("not-a-pid")
    with pytest.raises(InfrastructureNotAvailable, match="CLUSTER_UID:NAMESPACE:JOB_NAME"):
        job.attach("a:b:c:d")


def test_cancelled_run_deletes_its_job(cluster: Cluster, namespace: str, make_job: Any) -> None:
    async def main() -> str:
        async with anyio.create_task_group() as tg:
            pid = await tg.start(make_job(["sh", "-c", "sleep 120"]).run)
            await anyio.sleep(1)
            tg.cancel_scope.cancel()
        return pid

    pid = anyio.run(main)
    cluster.wait_for("the job to be deleted", lambda: cluster.job(namespace, pid.rsplit(":", 1)[1]) is None)


# --- attach -------------------------------------------------------------------------------

LAUNCHER = """
import sys
from launchbay import KubernetesJob
job = KubernetesJob.model_validate_json(sys.argv[1])
import anyio

async def main():
    async with anyio.create_task_group() as tg:
        pid = await tg.start(job.run)
        print(pid, flush=True)

anyio.run(main)
"""


def test_attach_after_the_launching_process_died(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(["sh", "-c", "echo first; sleep 5; echo second; exit 5"], stream_output=False)
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, job.model_dump_json(context={"reveal_secrets": True})],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert launcher.stdout is not None
    pid = launcher.stdout.readline().strip()
    launcher.send_signal(signal.SIGKILL)  # no clean-up: the job lives on
    launcher.wait()
    capfd.readouterr()
    assert cluster.job(namespace, pid.rsplit(":", 1)[1]) is not None
    result = KubernetesJob(namespace=namespace).attach(pid)
    assert result.identifier == pid and result.status_code == 5
    assert result.exit_reason is ExitReason.EXITED
    # The log is streamed from its start, each line once.
    assert capfd.readouterr().out == "first\nsecond\n"


def test_attach_to_a_finished_job(namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]) -> None:
    result = make_job(["sh", "-c", "echo done; exit 2"], stream_output=False).run()
    attached = KubernetesJob(namespace=namespace).attach(result.identifier)
    assert attached.status_code == 2
    assert capfd.readouterr().out == "done\n"


# --- logs ----------------------------------------------------------------------------------


def test_every_byte_of_a_large_log_in_order(make_job: Any, capfd: pytest.CaptureFixture[str]) -> None:
    script = "head -c 40000 /dev/zero | tr '\\0' x; echo; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; printf end"
    assert make_job(["sh", "-c", script]).run().status_code == 0
    expected = "x" * 40000 + "\n" + "".join(f"line {i}\n" for i in range(3000)) + "end"
    assert capfd.readouterr().out == expected


@pytest.mark.parametrize("code", [0, 3])
def test_a_pod_whose_phase_stays_pending_has_its_log_read_before_its_end(
    cluster: Cluster,
    namespace: str,
    make_job: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    code: int,
) -> None:
    """A kubelet under load sends only a pod's latest status: the watch can
    see the pod Pending with its container running, then Pending with it
    terminated, and Succeeded or Failed only seconds later. Here the watch's
    view lags so (the phase held at Pending, the Job's status held empty)
    until the run's log has been read to its end: the log is followed from
    the container's start, not from the phase. Then the real statuses come
    through and the run ends with every line and its exit code."""
    from launchbay._internal.kubernetes import watcher
    from launchbay._internal.kubernetes.logs import LogFollower
    from launchbay._internal.kubernetes.state import JobState

    held = {"on": True}
    original_pod = watcher.NamespaceWatcher._pod_from_raw

    def lagging_pod(self: watcher.NamespaceWatcher, raw: dict[str, Any]) -> Any:
        status = raw.get("status") or {}
        if held["on"] and status.get("phase") in ("Running", "Succeeded", "Failed"):
            raw = {**raw, "status": {**status, "phase": "Pending"}}
        return original_pod(self, raw)

    class LaggingJob(JobState):
        @classmethod
        def from_raw(cls, raw: dict[str, Any]) -> JobState:
            return JobState.from_raw({**raw, "status": {}} if held["on"] else raw)

    followed: list[str] = []
    log_read = anyio.Event()
    original_follow = LogFollower.follow

    async def follow(self: LogFollower) -> None:
        followed.append(self.pod)
        await original_follow(self)
        log_read.set()

    monkeypatch.setattr(watcher.NamespaceWatcher, "_pod_from_raw", lagging_pod)
    monkeypatch.setattr(watcher, "JobState", LaggingJob)
    monkeypatch.setattr(LogFollower, "follow", follow)

    async def release_once_the_log_is_read(pid: str) -> bool:
        with anyio.move_on_after(90):  # a guard: the assertion below says which came first
            await log_read.wait()
        read_while_held = log_read.is_set()
        held["on"] = False
        name = pid.rsplit(":", 1)[1]

        def touch() -> None:
            """A change to the job and its pod, so that the watch delivers them
            again, as they really are."""
            label = {"metadata": {"labels": {"launchbay-test-touched": "1"}}}
            cluster.batch.patch_namespaced_job(name, namespace, label)
            for pod in cluster.pods(namespace, name):
                cluster.core.patch_namespaced_pod(pod.metadata.name, namespace, label)

        await anyio.to_thread.run_sync(touch)
        return read_while_held

    job = make_job(["sh", "-c", f"echo first; sleep 2; echo last; exit {code}"])
    _, result, read_while_held = run_while(job, release_once_the_log_is_read)
    assert read_while_held, "the log was not followed while the pod's phase said Pending"
    assert len(followed) == 1
    assert result.status_code == code
    assert capfd.readouterr().out == "first\nlast\n"


# --- shared watches ----------------------------------------------------------------------


def test_many_runs_share_two_watches_and_no_threads(
    namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for proxy_variable in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(proxy_variable, raising=False)  # see connection.py: no proxy, no thread hop
    runs = 8
    before = counts()
    threads: list[int] = []

    async def main() -> list[KubernetesJobResult]:
        results: list[KubernetesJobResult] = []

        async def one(index: int) -> None:
            results.append(await make_job(["sh", "-c", f"sleep 2; echo run {index}; exit {index}"]).run())

        async def sample_threads() -> None:
            while True:
                threads.append(threading.active_count())
                await anyio.sleep(0.2)

        async with anyio.create_task_group() as tg:
            tg.start_soon(sample_threads)
            async with anyio.create_task_group() as runs_group:
                for index in range(runs):
                    runs_group.start_soon(one, index)
            tg.cancel_scope.cancel()
        return results

    baseline = threading.active_count()
    results = anyio.run(main)
    assert sorted(result.status_code for result in results) == list(range(runs))
    assert sorted(capfd.readouterr().out.splitlines()) == sorted(f"run {i}" for i in range(runs))
    spent = counts() - before
    # One namespace watch for all the runs: one LIST and one WATCH of each kind.
    assert spent["LIST jobs"] == 1 and spent["LIST pods"] == 1
    assert spent["WATCH jobs"] == 1 and spent["WATCH pods"] == 1
    # At most one of the pod events (a one-item LIST), opened by the first
    # progress line, and the events of pods seen before it read once each.
    assert spent["LIST events"] <= 1 and spent["WATCH events"] == spent["LIST events"]
    assert spent["LIST pod events"] <= runs * spent["LIST events"]
    assert spent["GET namespace"] == 1  # the cluster UID, once
    assert spent["POST job"] == runs
    # One log stream per run, reopened at most once (when the stream ends well
    # before the watch reports the container's end).
    assert runs <= spent["LOG pod"] <= 2 * runs
    assert spent["LIST job pods"] <= runs
    # Not a single thread besides the event loop's.
    assert max(threads) <= baseline


# --- watches that break -------------------------------------------------------------------


def through_cutting_proxy(cluster: Cluster) -> tuple[ForwardingProxy, KubernetesClusterConfig]:
    """A cluster config that reaches the API server through a proxy the test can
    cut every connection of."""
    from urllib.parse import urlsplit

    block = KubernetesClusterConfig.from_file(cluster.kubeconfig)
    server = urlsplit(block.server or "")
    proxy = ForwardingProxy.tcp((server.hostname or "127.0.0.1", server.port or 443))
    config = json.loads(json.dumps(block.config))
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    return proxy, KubernetesClusterConfig(config=config, context_name=block.context_name)


def test_watches_and_logs_resume_after_connections_drop(
    cluster: Cluster, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    proxy, cluster_config = through_cutting_proxy(cluster)
    job = make_job(
        ["sh", "-c", "i=1; while [ $i -le 8 ]; do echo line $i; i=$((i+1)); sleep 1; done; exit 7"],
        cluster_config=cluster_config,
    )
    before = counts()

    async def cut_twice(pid: str) -> None:
        for _ in range(2):  # cut everything twice while the job runs
            await anyio.sleep(3)
            assert await anyio.to_thread.run_sync(proxy.cut_connections) > 0

    try:
        _, result, _ = run_while(job, cut_twice)
    finally:
        proxy.close()
    spent = counts() - before
    assert result.status_code == 7
    assert capfd.readouterr().out == "".join(f"line {i}\n" for i in range(1, 9))
    assert spent["WATCH jobs"] >= 2 and spent["WATCH pods"] >= 2  # resumed
    assert spent["LOG pod"] >= 2  # the log stream was reopened


def test_expired_watch_is_listed_again_without_losing_the_result(
    cluster: Cluster, make_job: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """After a drop, resuming finds its resourceVersion compacted away (the API
    server answers 410 Expired, as it really does for version "1"): the watcher
    lists again and the run still ends with its exit code and whole log."""
    from launchbay._internal.kubernetes.watcher import NamespaceWatcher

    original = NamespaceWatcher._watch
    calls: Counter[str] = Counter()

    async def expiring(self: NamespaceWatcher, kind: Any, resource_version: str) -> str:
        calls[kind.name] += 1
        if calls[kind.name] == 2:
            resource_version = "1"  # long compacted away on any cluster
        return await original(self, kind, resource_version)

    monkeypatch.setattr(NamespaceWatcher, "_watch", expiring)
    proxy, cluster_config = through_cutting_proxy(cluster)
    job = make_job(
        ["sh", "-c", "echo before; sleep 4; echo after; exit 9"],
        cluster_config=cluster_config,
    )
    before = counts()

    async def cut_once(pid: str) -> None:
        await anyio.sleep(2)
        await anyio.to_thread.run_sync(proxy.cut_connections)

    try:
        _, result, _ = run_while(job, cut_once)
    finally:
        proxy.close()
    spent = counts() - before
    assert result.status_code == 9
    assert capfd.readouterr().out == "before\nafter\n"
    assert calls["jobs"] >= 3 and calls["pods"] >= 3  # first watch, expired resume, new watch
    assert spent["LIST jobs"] >= 2 and spent["LIST pods"] >= 2  # listed again after 410
