"""The Kubernetes side of the CLI, used as a new user would: `launchbay run
--kubernetes`, `preview`, `attach`, `kill` and `block save
kubernetes-cluster-config`, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure.kubernetes_fixtures import (  # noqa: F401 - fixtures
    IMAGE,
    Cluster,
    cluster,
    namespace,
)


def launchbay(
    *args: str, env: dict[str, str] | None = None, timeout: float = 150
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launchbay.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else dict(os.environ),
    )


def started_pid(stderr: str) -> str:
    for line in stderr.splitlines():
        if "started " in line:
            return line.split("started ", 1)[1].strip()
    raise AssertionError(f"no 'started PID' line in: {stderr}")


def test_preview_prints_the_manifest_without_a_cluster(tmp_path: Path) -> None:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps([{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 60}]))
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}
    done = launchbay(
        "preview",
        "--kubernetes",
        IMAGE,
        "--namespace",
        "team",
        "--pull-policy",
        "IfNotPresent",
        "--service-account",
        "robot",
        "--finished-job-ttl",
        "30",
        "--customization",
        f"@{patch}",
        "-l",
        "app=demo",
        "-e",
        "A=1",
        "--name",
        "My Job",
        "--",
        "sh",
        "-c",
        "echo hi; exit 3",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load(done.stdout)
    assert manifest["kind"] == "Job" and manifest["metadata"]["namespace"] == "team"
    assert manifest["metadata"]["generateName"] == "my-job-"
    assert manifest["metadata"]["labels"] == {"app": "demo"}
    assert manifest["spec"]["backoffLimit"] == 0  # the CLI runs a command once
    assert manifest["spec"]["activeDeadlineSeconds"] == 60
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 30
    pod = manifest["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "robot"
    container = pod["containers"][0]
    assert container["image"] == IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["sh", "-c", "echo hi; exit 3"]
    assert {"name": "A", "value": "1"} in container["env"]


def test_preview_keeps_a_backoff_limit_the_user_set(tmp_path: Path) -> None:
    done = launchbay(
        "preview",
        "--kubernetes",
        IMAGE,
        "--customization",
        '[{"op": "add", "path": "/spec/backoffLimit", "value": 3}]',
        "--",
        "true",
    )
    assert yaml.safe_load(done.stdout)["spec"]["backoffLimit"] == 3


def test_preview_bad_customization_is_a_usage_error() -> None:
    done = launchbay("preview", "--kubernetes", IMAGE, "--customization", "{not json", "--", "true")
    assert done.returncode == 2
    assert "Unable to parse customizations as JSON" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_run_prints_output_and_exits_with_the_status(cluster: Cluster, namespace: str) -> None:
    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--",
        "sh",
        "-c",
        "echo hi; exit 3",
    )
    assert done.stdout == "hi\n"
    assert done.returncode == 3, done.stderr
    pid = started_pid(done.stderr)
    assert pid.startswith(f"{cluster.uid}:{namespace}:launchbay-job-")


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_run_with_a_saved_cluster_config(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    saved = launchbay("block", "save", "kubernetes-cluster-config", "dev", "--from-file", cluster.kubeconfig)
    assert saved.returncode == 0, saved.stderr
    shown = launchbay("block", "load", "kubernetes-cluster-config/dev")
    assert "client-key-data" in shown.stdout and "**********" in shown.stdout
    assert "LS0t" not in shown.stdout.split('"client-key-data"', 1)[1].split("\n", 1)[0]  # masked
    bad = launchbay(
        "block",
        "save",
        "kubernetes-cluster-config",
        "other",
        "--from-file",
        cluster.kubeconfig,
        "--context",
        "nope",
    )
    assert bad.returncode == 2 and "Available contexts" in bad.stderr
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}  # only the block knows the cluster
    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--cluster-config",
        "dev",
        "--",
        "sh",
        "-c",
        "echo via block",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "via block\n"


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_attach_then_kill_from_the_cli(cluster: Cluster, namespace: str) -> None:
    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--job-watch-timeout",
        "1",
        "--",
        "sh",
        "-c",
        "echo a; sleep 5; echo b; exit 6",
    )
    # The watch gave up (TIMED_OUT): 124, as timeout(1) exits; the job runs on.
    assert done.returncode == 124 and "did not complete within timeout" in done.stderr
    pid = started_pid(done.stderr)
    assert f"{pid} runs on: `launchbay attach {pid}`" in done.stderr
    attached = launchbay("attach", pid)
    assert attached.returncode == 6, attached.stderr
    assert attached.stdout == "a\nb\n"
    killed = launchbay("kill", pid, "--grace", "0")
    assert killed.returncode == 0, killed.stderr
    assert cluster.job(namespace, pid.rsplit(":", 1)[1]) is None
    again = launchbay("kill", pid)
    assert again.returncode == 1 and "not found" in again.stderr


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_kill_says_which_pods_are_still_terminating(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from launchbay._internal.kubernetes import runner
    from launchbay.cli.main import main

    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--job-watch-timeout",
        "1",
        "--",
        "sleep",
        "300",
    )
    assert done.returncode == 124, done.stderr
    pid = started_pid(done.stderr)
    name = pid.rsplit(":", 1)[1]
    pod = cluster.wait_for("the pod", lambda: cluster.pods(namespace, name))[0].metadata.name
    # A finalizer holds the pod object after its container has ended.
    hold = {"metadata": {"finalizers": ["launchbay.test/hold"]}}
    cluster.core.patch_namespaced_pod(pod, namespace, hold)
    monkeypatch.setattr(runner, "KILL_MARGIN_SECONDS", 3.0)
    try:
        code = main(["kill", pid, "--grace", "0"])
        err = capsys.readouterr().err
        assert code == 125, err
        # One error line that names the pod; not "stopped".
        said = [line for line in err.splitlines() if "still being deleted" in line]
        assert len(said) == 1 and f"pod(s) {pod} still terminating" in said[0], err
        assert "stopped" not in err, err
    finally:
        cluster.core.patch_namespaced_pod(pod, namespace, {"metadata": {"finalizers": None}})
    cluster.wait_for("the job to be deleted", lambda: cluster.job(namespace, name) is None)


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_run_options_reach_the_cluster(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    from kubernetes import client

    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="cli-robot"))
    )
    patch = tmp_path / "limits.yaml"
    patch.write_text(
        yaml.safe_dump(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/resources",
                    "value": {"limits": {"memory": "48Mi"}},
                }
            ]
        )
    )
    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--service-account",
        "cli-robot",
        "--finished-job-ttl",
        "300",
        "--customization",
        f"@{patch}",
        "-l",
        "launchbay.io/purpose=cli test",
        "--",
        "true",
    )
    assert done.returncode == 0, done.stderr
    job: Any = cluster.job(namespace, started_pid(done.stderr).rsplit(":", 1)[1])
    assert job.spec.ttl_seconds_after_finished == 300
    assert job.spec.backoff_limit == 0
    assert job.metadata.labels["launchbay.io/purpose"] == "cli-test"
    assert job.spec.template.spec.service_account_name == "cli-robot"
    assert job.spec.template.spec.containers[0].resources.limits == {"memory": "48Mi"}


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_missing_image_fails_with_the_reason(namespace: str) -> None:
    done = launchbay(
        "run",
        "--kubernetes",
        "launchbay-test/not-here:0.1",
        "--namespace",
        namespace,
        "--pull-policy",
        "Never",
        "--",
        "true",
    )
    assert done.returncode == 1
    assert "ErrImageNeverPull" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.kubernetes
def test_kill_and_attach_reach_the_cluster_through_a_saved_cluster_config(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    # No kubeconfig in the environment: only the saved block can reach the cluster.
    saved = launchbay("block", "save", "kubernetes-cluster-config", "dev", "--from-file", cluster.kubeconfig)
    assert saved.returncode == 0, saved.stderr
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}
    missing = f"{cluster.uid}:{namespace}:no-such-job"
    for command in ("kill", "attach"):
        done = launchbay(command, missing, "--cluster-config", "dev", env=env)
        assert done.returncode == 1, done.stderr
        assert "not found" in done.stderr and "Traceback" not in done.stderr
    wrong_kind = launchbay("kill", "somehost:123", "--cluster-config", "dev", env=env)
    assert wrong_kind.returncode == 2 and "for Kubernetes pids" in wrong_kind.stderr


NO_NODE = (
    '[{"op": "add", "path": "/spec/template/spec/nodeSelector", "value": {"launchbay.io/no-such-node": "x"}}]'
)


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_a_pod_waiting_to_be_scheduled_says_so_and_nothing_under_quiet(namespace: str) -> None:
    for quiet in (False, True):
        done = launchbay(
            "run",
            *(["-q"] if quiet else []),
            "--kubernetes",
            IMAGE,
            "--namespace",
            namespace,
            "--pull-policy",
            "IfNotPresent",
            "--customization",
            NO_NODE,
            "--",
            "true",
        )
        # Unschedulable, after the pod failure grace (10 s): progress lines meanwhile.
        assert done.returncode == 1 and "Unschedulable" in done.stderr, done.stderr
        assert ("is waiting to be scheduled" in done.stderr) is not quiet, done.stderr


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_run_with_a_timeout_exits_124_and_leaves_no_job(cluster: Cluster, namespace: str) -> None:
    done = launchbay(
        "run",
        "--kubernetes",
        IMAGE,
        "--namespace",
        namespace,
        "--pull-policy",
        "IfNotPresent",
        "--timeout",
        "2",
        "--grace",
        "1",
        "--",
        "sh",
        "-c",
        "echo started; sleep 60",
    )
    assert done.returncode == 124, done.stderr
    assert done.stdout == "started\n" and "timed out after 2 s" in done.stderr
    assert cluster.job(namespace, started_pid(done.stderr).rsplit(":", 1)[1]) is None


@pytest.mark.kubernetes
@pytest.mark.timeout(300)
def test_ctrl_c_deletes_the_job_with_the_grace_and_a_second_kills_now(
    cluster: Cluster, namespace: str
) -> None:
    import signal

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "launchbay.cli",
            "run",
            "--kubernetes",
            IMAGE,
            "--namespace",
            namespace,
            "--pull-policy",
            "IfNotPresent",
            "--grace",
            "30",
            "--",
            "sh",
            "-c",
            "echo running; sleep 120",  # sh as the pod's first process ignores SIGTERM
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    seen = ""
    while "started " not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    name = started_pid(seen).rsplit(":", 1)[1]
    assert process.stdout.readline() == "running\n"
    process.send_signal(signal.SIGINT)

    def deleting() -> Any:
        pods = [p for p in cluster.pods(namespace, name) if p.metadata.deletion_timestamp]
        return pods[0] if pods else None

    pod = cluster.wait_for("the pod to be deleted", deleting)
    assert pod.metadata.deletion_grace_period_seconds == 30  # --grace
    process.send_signal(signal.SIGINT)  # the second: now
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr
    assert cluster.job(namespace, name) is None and cluster.pods(namespace, name) == []
