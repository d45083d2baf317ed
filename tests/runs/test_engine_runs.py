"""Detached Docker and Kubernetes runs (held by their engines) and foreground
runs whose supervisor was SIGKILLed: listed, followed, waited for, inspected
and removed, on the real engine and the dev cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests._internal.records.fixtures import detach, launchbay_cli, wait_until
from tests.docker_fixtures import TEST_IMAGE, _docker_session, docker_client, test_labels  # noqa: F401
from tests.infrastructure.kubernetes_fixtures import IMAGE, QUICK_EXIT, cluster, namespace  # noqa: F401

from launchbay import runs
from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import RunStatus

# A foreground run as the CLI's paths record it (begin, started, end): the
# recorder around the block's run.
FOREGROUND = """
import sys, json, anyio
from launchbay import DockerContainer, KubernetesJob
from launchbay._internal.records import recorder
block = {"docker-container": DockerContainer, "kubernetes-job": KubernetesJob}[sys.argv[1]].model_validate_json(sys.argv[2])
recording = recorder.begin(block.type, command=block.command, cli=True)
print(recording.run_id, flush=True)
anyio.run(recorder.recorded, recording, block.arun, anyio.TASK_STATUS_IGNORED)
"""


def foreground(block: Any) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, block.type, block.model_dump_json()],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def started(run_id: str) -> bool:
    return runs.get(run_id).infrastructure_pid is not None


# --- Docker -------------------------------------------------------------------------------------


@pytest.mark.docker
def test_a_detached_container_is_listed_followed_waited_for_and_removed(
    test_labels: dict[str, str], tmp_path: Path
) -> None:
    tmp_path.chmod(0o777)
    gate = "/gate/open"
    script = f"echo a; while [ ! -e {gate} ]; do sleep 0.05; done; echo b; exit 7"
    labels = [f"-l{key}={value}" for key, value in test_labels.items()]
    run_id = detach(
        "--docker",
        TEST_IMAGE,
        "--pull",
        "never",
        "--volume",
        f"{tmp_path}:/gate",
        *labels,
        "--",
        "sh",
        "-c",
        script,
    )
    listed = launchbay_cli("ps")
    assert run_id[:12] in listed.stdout and "docker" in listed.stdout and "Up " in listed.stdout
    record = runs.get(run_id)
    assert record.kind == "docker-container" and record.supervisor is None and record.detached
    (tmp_path / "open").touch()
    followed = launchbay_cli("logs", "-f", run_id)
    assert (followed.returncode, followed.stdout) == (0, "a\nb\n")
    waited = launchbay_cli("wait", run_id)
    assert (waited.returncode, waited.stdout) == (0, "7\n")
    inspected = json.loads(launchbay_cli("inspect", run_id).stdout)
    assert (inspected["status"], inspected["status_code"], inspected["exit_reason"]) == (
        "exited",
        7,
        "exited",
    )
    assert launchbay_cli("logs", run_id).stdout == "a\nb\n"  # after the end: from the engine's log
    assert launchbay_cli("rm", run_id).returncode == 0
    assert launchbay_cli("inspect", run_id).returncode == 1


@pytest.mark.docker
def test_ps_learns_a_detached_container_s_end_from_the_engine(test_labels: dict[str, str]) -> None:
    labels = [f"-l{key}={value}" for key, value in test_labels.items()]
    run_id = detach("--docker", TEST_IMAGE, "--pull", "never", *labels, "--", "sh", "-c", "exit 3")
    wait_until(lambda: run_id[:12] not in launchbay_cli("ps").stdout, what="the container's end in ps")
    record = runs.get(run_id)
    assert (record.status, record.status_code, record.exit_reason) == (RunStatus.EXITED, 3, ExitReason.EXITED)


@pytest.mark.docker
def test_a_detached_docker_run_refuses_a_timeout_no_one_would_enforce() -> None:
    refused = launchbay_cli("run", "-d", "--docker", TEST_IMAGE, "--timeout", "5", "--", "true")
    assert refused.returncode != 0 and "--timeout cannot be used with -d" in refused.stderr
    assert runs.list(all=True) == []


@pytest.mark.docker
def test_a_foreground_container_whose_supervisor_was_killed_shows_its_true_end(
    test_labels: dict[str, str],
) -> None:
    from launchbay import DockerContainer, ImagePullPolicy

    block = DockerContainer(
        image=TEST_IMAGE,
        image_pull_policy=ImagePullPolicy.NEVER,
        labels=test_labels,
        command=["sleep", "300"],
    )
    supervisor, run_id = foreground(block)
    wait_until(lambda: started(run_id), what="the container's start")
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    # Nobody of ours watches it any more; its engine says it runs.
    assert runs.get(run_id).status is RunStatus.RUNNING
    runs.kill(run_id, grace_seconds=0)
    ended = runs.wait(run_id)
    assert (ended.status, ended.status_code, ended.exit_reason) == (
        RunStatus.EXITED,
        137,
        ExitReason.SIGNALED,
    )


# --- Kubernetes ------------------------------------------------------------------------------


def _pod_of(cluster: Any, namespace: str, run_id: str) -> str:
    job_name = (runs.get(run_id).infrastructure_pid or "").split(":")[2]

    def running_pod() -> str | None:
        for pod in cluster.pods(namespace, job_name):
            if pod.status.phase == "Running":
                return str(pod.metadata.name)
        return None

    return str(cluster.wait_for("the job's running pod", running_pod))


@pytest.mark.kubernetes
def test_a_detached_job_is_listed_followed_waited_for_and_removed(cluster: Any, namespace: str) -> None:
    script = "echo a; while [ ! -e /tmp/open ]; do sleep 0.05; done; echo b; exit 7"
    run_id = detach(
        "--kubernetes", IMAGE, "--pull-policy", "IfNotPresent", "--namespace", namespace,
        "--customization", json.dumps([QUICK_EXIT]), "--", "sh", "-c", script,
    )  # fmt: skip
    listed = launchbay_cli("ps")
    assert run_id[:12] in listed.stdout and "kubernetes" in listed.stdout and "Up " in listed.stdout
    pod = _pod_of(cluster, namespace, run_id)
    subprocess.run(
        ["kubectl", "exec", "-n", namespace, pod, "--", "touch", "/tmp/open"], check=True, timeout=60
    )
    followed = launchbay_cli("logs", "-f", run_id)
    assert (followed.returncode, followed.stdout) == (0, "a\nb\n")
    waited = launchbay_cli("wait", run_id)
    assert (waited.returncode, waited.stdout) == (0, "7\n")
    assert launchbay_cli("logs", run_id).stdout == "a\nb\n"
    inspected = json.loads(launchbay_cli("inspect", run_id).stdout)
    assert (inspected["status"], inspected["status_code"]) == ("exited", 7)
    assert launchbay_cli("rm", run_id).returncode == 0


@pytest.mark.kubernetes
def test_a_foreground_job_whose_supervisor_was_killed_is_waited_for_through_the_cluster(
    cluster: Any, namespace: str
) -> None:
    from launchbay import KubernetesImagePullPolicy, KubernetesJob

    block = KubernetesJob(
        image=IMAGE,
        image_pull_policy=KubernetesImagePullPolicy.IF_NOT_PRESENT,
        namespace=namespace,
        customizations=json.dumps([QUICK_EXIT]),  # type: ignore[arg-type] # the validator parses it
        command=["sh", "-c", "while [ ! -e /tmp/open ]; do sleep 0.05; done; echo done; exit 4"],
    )
    supervisor, run_id = foreground(block)
    wait_until(lambda: started(run_id), timeout=120, what="the job's creation")
    pod = _pod_of(cluster, namespace, run_id)
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    assert runs.get(run_id).status is RunStatus.RUNNING  # the cluster says so
    subprocess.run(
        ["kubectl", "exec", "-n", namespace, pod, "--", "touch", "/tmp/open"], check=True, timeout=60
    )
    ended = runs.wait(run_id)
    assert (ended.status, ended.status_code, ended.exit_reason) == (RunStatus.EXITED, 4, ExitReason.EXITED)
