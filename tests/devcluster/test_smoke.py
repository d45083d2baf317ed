"""Smoke test of the dev cluster (devcluster/): a real API server, Job
controller and kubelet running a local busybox image. Needs KUBECONFIG
(scripts/services/devcluster.sh sets it); under CI=true a missing cluster fails."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.kubernetes

IMAGE = "launchbay-test/busybox:1.35"
DEVCLUSTER = Path(__file__).resolve().parents[2] / "devcluster" / "devcluster"
NAMESPACE = "default"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the dev cluster is missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def api():
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if not kubeconfig or not Path(kubeconfig).is_file():
        _missing("KUBECONFIG is not set to a file (scripts/services/devcluster.sh sets it)")
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        client.VersionApi(api_client).get_code(_request_timeout=10)
    except Exception as exc:
        _missing(f"cluster at {kubeconfig} is unreachable: {exc}")
    # The test image comes from the local Docker Engine (or busybox-static).
    subprocess.run([str(DEVCLUSTER), "test-image"], check=True, timeout=300)
    yield client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    api_client.close()


def _job(name: str, script: str) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "main",
                            "image": IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", script],
                        }
                    ],
                }
            },
        },
    }


def _wait(what: str, predicate, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _pods(core, name: str):
    return core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={name}").items


def _delete_foreground(batch, core, name: str) -> None:
    batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Foreground")

    def gone():
        jobs = batch.list_namespaced_job(NAMESPACE, field_selector=f"metadata.name={name}").items
        return not jobs and not _pods(core, name)

    _wait(f"job {name} and its pods to be deleted", gone, timeout=90)


def test_failed_job_reports_exit_code_and_logs(api):
    batch, core = api
    name = f"smoke-fail-{uuid.uuid4().hex[:6]}"
    batch.create_namespaced_job(NAMESPACE, _job(name, "echo hi; exit 3"))
    try:

        def failed():
            job = batch.read_namespaced_job_status(name, NAMESPACE)
            conds = job.status.conditions or []
            return any(c.type == "Failed" and c.status == "True" for c in conds)

        _wait(f"job {name} to fail", failed)
        pods = _pods(core, name)
        assert len(pods) == 1
        terminated = pods[0].status.container_statuses[0].state.terminated
        assert terminated is not None and terminated.exit_code == 3
        log = core.read_namespaced_pod_log(pods[0].metadata.name, NAMESPACE)
        assert log == "hi\n"
    finally:
        _delete_foreground(batch, core, name)


def test_foreground_delete_takes_running_pod(api):
    batch, core = api
    name = f"smoke-run-{uuid.uuid4().hex[:6]}"
    batch.create_namespaced_job(NAMESPACE, _job(name, "echo started; sleep 300"))

    def running():
        pods = _pods(core, name)
        return pods and pods[0].status.phase == "Running" and pods[0]

    pod = _wait(f"job {name}'s pod to run", running)
    _delete_foreground(batch, core, name)
    remaining = [p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items]
    assert pod.metadata.name not in remaining
