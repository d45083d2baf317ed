"""What users expect of Kubernetes Jobs (SPEC 15), against the real dev
cluster: a command runs once, a timeout stops it, cancellation honours the
grace and a second signal, every end has its exit reason, resources and
placement reach the pod, a pod slow to start says why, and the settings'
credentials stay out of the Job."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from launchbay import ExitReason, KubernetesJob, KubernetesJobResult
from launchbay._internal.kubernetes import runner
from launchbay._internal.kubernetes.manifest import DEADLINE_MARGIN_SECONDS
from launchbay._internal.stopping import STOP_REQUEST, StopRequest
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    _docker_session,
    docker_client,
    registry,
    registry_images,
)
from tests.infrastructure.kubernetes_fixtures import (  # noqa: F401 - fixtures
    IMAGE,
    Cluster,
    cluster,
    make_job,
    namespace,
)
from tests.runs import run_while

pytestmark = [pytest.mark.kubernetes, pytest.mark.timeout(180)]

NO_SUCH_NODE = {"launchbay.io/no-such-node": "x"}


def job_name(pid_or_result: str | KubernetesJobResult) -> str:
    pid = pid_or_result if isinstance(pid_or_result, str) else pid_or_result.identifier
    return pid.rsplit(":", 1)[1]


def wait_until_running(cluster: Cluster, namespace: str, pid: str) -> None:
    cluster.wait_for(
        "the pod to run",
        lambda: any(p.status.phase == "Running" for p in cluster.pods(namespace, job_name(pid))),
    )


@pytest.fixture
def stop_request() -> Iterator[StopRequest]:
    """A stop request with a grace of its own, as the CLI sets one from --grace."""
    request = StopRequest(grace_seconds=30)
    token = STOP_REQUEST.set(request)
    yield request
    STOP_REQUEST.reset(token)


# --- runs once -------------------------------------------------------------------------------


@pytest.mark.timeout(120)  # Kubernetes' own default (6 retries) would take about 12 minutes
def test_a_failing_command_runs_once_and_returns_its_exit_code(cluster: Cluster, namespace: str) -> None:
    # The block's own default, no customization.
    job = KubernetesJob(
        image=IMAGE, image_pull_policy="IfNotPresent", namespace=namespace, command=["sh", "-c", "exit 3"]
    )
    result = job.run()
    assert result.status_code == 3 and result.exit_reason is ExitReason.EXITED
    created = cluster.job(namespace, job_name(result))
    assert created is not None and created.spec.backoff_limit == 0
    assert len(cluster.pods(namespace, job_name(result))) == 1


# --- timeouts ----------------------------------------------------------------------------------


def test_a_timeout_stops_the_run_and_deletes_its_job(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(
        ["sh", "-c", "trap 'echo stopping; exit 143' TERM; echo started; sleep 60 & wait"], timeout_seconds=2
    )

    async def deadline_of(pid: str) -> int:
        created = await anyio.to_thread.run_sync(lambda: cluster.job(namespace, job_name(pid)))
        return int(created.spec.active_deadline_seconds)

    pid, result, deadline = run_while(job, deadline_of)
    assert deadline == 2 + DEADLINE_MARGIN_SECONDS  # the cluster's own, should launchbay be gone
    assert result.exit_reason is ExitReason.TIMED_OUT
    assert (result.reason or "").startswith("timed out after 2 s")
    assert result.status_code == 143  # its own exit, on the SIGTERM the deletion sent
    assert capfd.readouterr().out == "started\nstopping\n"  # the output through the grace too
    assert cluster.job(namespace, job_name(pid)) is None


def test_a_timeout_deletes_with_the_grace_of_the_stop_request(
    cluster: Cluster, namespace: str, stop_request: StopRequest
) -> None:
    stop_request.grace_seconds = 3
    # `sleep` as the pod's first process ignores SIGTERM: it is killed after the grace.
    job = KubernetesJob(
        image=IMAGE,
        image_pull_policy="IfNotPresent",
        namespace=namespace,
        command=["sleep", "60"],
        timeout_seconds=2,
    )

    async def grace_of_the_deletion(pid: str) -> int:
        def deleting() -> Any:
            pods = [p for p in cluster.pods(namespace, job_name(pid)) if p.metadata.deletion_timestamp]
            return pods[0].metadata.deletion_grace_period_seconds if pods else None

        return int(await anyio.to_thread.run_sync(lambda: cluster.wait_for("the deletion", deleting)))

    pid, result, grace = run_while(job, grace_of_the_deletion)
    assert grace == 3  # not the pod's own 30 s, nor the default 10 s
    assert result.exit_reason is ExitReason.TIMED_OUT and result.status_code == 137
    assert "SIGKILL" in (result.reason or "")
    assert cluster.job(namespace, job_name(pid)) is None


def test_a_timeout_before_the_pod_starts(cluster: Cluster, make_job: Any) -> None:
    result = make_job(
        ["true"], node_selector=NO_SUCH_NODE, pod_failure_grace_seconds=None, timeout_seconds=2
    ).run()
    assert result.exit_reason is ExitReason.TIMED_OUT and result.status_code == -1
    assert (result.reason or "").startswith("timed out after 2 s before its pod started (Unschedulable")


# --- cancellation and kill -------------------------------------------------------------------


def test_cancelling_a_run_deletes_its_job_with_the_grace_and_a_second_signal_kills_now(
    cluster: Cluster,
    namespace: str,
    make_job: Any,
    stop_request: StopRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # busybox's sh as the pod's first process ignores SIGTERM: only the grace ends it.
    job = make_job(["sh", "-c", "echo running; sleep 120"])

    async def main() -> tuple[str, int]:
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def run(*, task_status: Any) -> None:
                with scope:
                    await job.arun(task_status=task_status)

            pid = await tg.start(run)
            await anyio.to_thread.run_sync(lambda: wait_until_running(cluster, namespace, pid))
            scope.cancel()  # Ctrl+C

            def deleting() -> Any:
                pods = [p for p in cluster.pods(namespace, job_name(pid)) if p.metadata.deletion_timestamp]
                return pods[0].metadata.deletion_grace_period_seconds if pods else None

            grace = await anyio.to_thread.run_sync(lambda: cluster.wait_for("the deletion", deleting))
            stop_request.escalate()  # a second Ctrl+C during the grace
        return pid, int(grace)

    pid, grace = anyio.run(main)
    assert grace == 30  # the stop request's grace
    assert "killing its pods now" in caplog.text
    # The cancelled run returned once its pod was gone, well within the 30 s.
    assert cluster.job(namespace, job_name(pid)) is None
    assert cluster.pods(namespace, job_name(pid)) == []


def test_killed_from_another_shell_is_cancelled_for_the_run_and_an_attached_watcher(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # A program that handles SIGTERM and exits 0: cancelled all the same.
    job = make_job(["sh", "-c", "trap 'echo bye; exit 0' TERM; echo running; sleep 60 & wait"])
    results: dict[str, KubernetesJobResult] = {}

    async def main() -> subprocess.CompletedProcess[str]:
        async with anyio.create_task_group() as tg:

            async def run(*, task_status: Any) -> None:
                results["run"] = await job.arun(task_status=task_status)

            pid = await tg.start(run)

            async def attach() -> None:
                watcher = KubernetesJob(namespace=namespace, stream_output=False)
                results["attach"] = await watcher.aattach(pid)

            tg.start_soon(attach)
            await anyio.to_thread.run_sync(lambda: wait_until_running(cluster, namespace, pid))
            return await anyio.to_thread.run_sync(
                lambda: subprocess.run(
                    [sys.executable, "-m", "launchbay.cli", "kill", pid, "--grace", "5"],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            )

    killed = anyio.run(main)
    assert killed.returncode == 0, killed.stderr
    for result in results.values():
        assert result.exit_reason is ExitReason.CANCELLED, result
        assert result.status_code == 0 and "the job was deleted" in (result.reason or "")
    assert set(results) == {"run", "attach"}
    assert capfd.readouterr().out == "running\nbye\n"


# --- resources and placement ----------------------------------------------------------------

CGROUP_LIMITS = (
    "if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; "
    "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; fi"
)


def test_cpu_and_memory_reach_the_pod_and_its_cgroup(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    toleration = {"key": "launchbay.io/test", "operator": "Exists", "effect": "NoSchedule"}
    result = make_job(
        ["sh", "-c", CGROUP_LIMITS],
        cpu_request="100m",
        cpu_limit="250m",
        memory_request="32Mi",
        memory_limit="64Mi",
        tolerations=[toleration],
    ).run()
    assert result.status_code == 0
    pod = cluster.pods(namespace, job_name(result))[0]
    resources = pod.spec.containers[0].resources
    assert resources.limits == {"cpu": "250m", "memory": "64Mi"}
    assert resources.requests == {"cpu": "100m", "memory": "32Mi"}
    tolerations = [
        {"key": t.key, "operator": t.operator, "effect": t.effect} for t in pod.spec.tolerations or []
    ]
    assert toleration in tolerations
    # The kernel enforces them: 64 MiB, a quarter of a CPU.
    memory, cpu = capfd.readouterr().out.split("\n", 1)
    assert memory == str(64 * 2**20)
    assert cpu.split() in (["25000"], ["25000", "100000"])


def test_a_node_selector_that_matches_runs(cluster: Cluster, namespace: str, make_job: Any) -> None:
    result = make_job(["true"], node_selector={"kubernetes.io/os": "linux"}).run()
    assert result.status_code == 0 and result.exit_reason is ExitReason.EXITED
    assert cluster.pods(namespace, job_name(result))[0].spec.node_selector == {"kubernetes.io/os": "linux"}


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"node_selector": NO_SUCH_NODE}, "node affinity/selector"),
        ({"gpus": 1}, "nvidia.com/gpu"),  # no node of the dev cluster has a GPU
    ],
    ids=["node-selector", "gpus"],
)
def test_no_node_that_fits_is_unschedulable_reported_fast(
    cluster: Cluster, namespace: str, make_job: Any, fields: dict[str, Any], said: str
) -> None:
    # Within the pod failure grace, long before the pod watch timeout.
    result = make_job(["true"], pod_failure_grace_seconds=1, pod_watch_timeout_seconds=600, **fields).run()
    assert result.exit_reason is ExitReason.UNSCHEDULABLE and result.status_code == -1
    assert (result.reason or "").startswith("Unschedulable") and said in (result.reason or "")
    cluster.wait_for("the job to be deleted", lambda: cluster.job(namespace, job_name(result)) is None)


# --- progress --------------------------------------------------------------------------------


def test_a_pod_waiting_to_be_scheduled_says_so(
    make_job: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "PROGRESS_SECONDS", 1.0)
    caplog.set_level("INFO", logger="launchbay.infrastructure.kubernetes-job")
    result = make_job(
        ["true"], node_selector=NO_SUCH_NODE, pod_failure_grace_seconds=None, pod_watch_timeout_seconds=4
    ).run()
    assert result.exit_reason is ExitReason.TIMED_OUT
    lines = [r.getMessage() for r in caplog.records if "is waiting to be scheduled" in r.getMessage()]
    assert lines and "didn't match Pod's node affinity/selector" in lines[-1], caplog.text
    assert all(r.name == "launchbay.infrastructure.kubernetes-job" for r in caplog.records)


class SlowRelay:
    """A TCP relay to ``target`` whose answers start ``delay`` s after its first
    connection: a registry slow to serve, so a pull takes a while."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target = target
        self.delay = delay
        self.opens_at: float | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.opens_at is None:
                self.opens_at = time.monotonic() + self.delay
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self.opens_at is not None:
                    time.sleep(max(self.opens_at - time.monotonic(), 0))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.mark.registry
@pytest.mark.docker
def test_image_pull_secrets_and_a_pod_pulling_its_image_says_so(
    cluster: Cluster,
    namespace: str,
    make_job: Any,
    registry_images: Any,
    registry: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubernetes import client

    monkeypatch.setattr(runner, "PROGRESS_SECONDS", 1.0)
    caplog.set_level("INFO", logger="launchbay.infrastructure.kubernetes-job")
    registry_images.push("1")
    host, port = registry["address"].rsplit(":", 1)
    relay = SlowRelay((host, int(port)), delay=4)
    try:
        image = registry_images.ref("1").replace(registry["address"], relay.address, 1)
        # The registry asks for a password: without a pull secret the pull fails.
        refused = make_job(
            ["true"], image=image, image_pull_policy="Always", pod_failure_grace_seconds=1
        ).run()
        assert refused.exit_reason is ExitReason.IMAGE_PULL_FAILED
        login = base64.b64encode(f"{registry['username']}:{registry['password']}".encode()).decode()
        config = {"auths": {relay.address: {"auth": login}}}
        secret = f"registry-{uuid.uuid4().hex[:6]}"
        cluster.core.create_namespaced_secret(
            namespace,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=secret),
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": json.dumps(config)},
            ),
        )
        caplog.clear()
        relay.opens_at = None  # slow again from the next connection
        result = make_job(
            ["sh", "-c", "echo pulled"], image=image, image_pull_policy="Always", image_pull_secrets=[secret]
        ).run()
    finally:
        relay.close()
    assert result.status_code == 0 and capfd.readouterr().out == "pulled\n"
    assert cluster.pods(namespace, job_name(result))[0].spec.image_pull_secrets[0].name == secret
    assert f"is pulling image {image}" in caplog.text


# --- credentials ------------------------------------------------------------------------------


def test_credentials_in_the_settings_stay_out_of_the_job(
    cluster: Cluster, namespace: str, make_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "postgresql://u:PW@127.0.0.1/db")
    job = make_job(["true"])
    assert "PW" not in job.preview()
    result = job.run()
    assert result.status_code == 0
    created = cluster.job(namespace, job_name(result))
    env = created.spec.template.spec.containers[0].env or []
    assert "LAUNCHBAY_DATABASE_URL" not in {item.name for item in env}
    assert not any("PW" in (item.value or "") for item in env)
