"""Fixtures for the tests that run jobs on the dev cluster (devcluster/).

The cluster comes from ``KUBECONFIG`` (scripts/test exports it after
scripts/services/devcluster.sh brought the cluster up). When it is missing or
unreachable the tests skip locally and FAIL under CI=true (``require``).
Each test module gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

IMAGE = "launchbay-test/busybox:1.35"
ROOT = Path(__file__).resolve().parents[2]
DEVCLUSTER = ROOT / "devcluster" / "devcluster"
# busybox's sh as PID 1 ignores SIGTERM: without this, every deleted pod
# takes the default 30 s to go.
QUICK_EXIT = {"op": "add", "path": "/spec/template/spec/terminationGracePeriodSeconds", "value": 1}


@dataclass
class Cluster:
    kubeconfig: str
    batch: Any  # kubernetes.client.BatchV1Api
    core: Any  # kubernetes.client.CoreV1Api
    uid: str

    def job(self, namespace: str, name: str) -> Any | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.batch.read_namespaced_job(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pods(self, namespace: str, job_name: str) -> list[Any]:
        return self.core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    kubeconfig = os.environ.get("KUBECONFIG", "")
    require(
        bool(kubeconfig) and Path(kubeconfig).is_file(),
        "KUBECONFIG is not set to a file (scripts/services/devcluster.sh starts the dev cluster)",
    )
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        kube_system = client.CoreV1Api(api_client).read_namespace("kube-system", _request_timeout=10)
    except Exception as exc:
        require(False, f"the cluster of {kubeconfig} is unreachable: {exc}")
        raise
    if DEVCLUSTER.is_file():  # the test image comes from the local Docker Engine
        subprocess.run([str(DEVCLUSTER), "test-image"], check=True, timeout=300, capture_output=True)
    yield Cluster(
        kubeconfig=kubeconfig,
        batch=client.BatchV1Api(api_client),
        core=client.CoreV1Api(api_client),
        uid=kube_system.metadata.uid,
    )
    api_client.close()


def make_namespace(cluster: Cluster, prefix: str) -> str:
    from kubernetes import client

    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods need the namespace's default service account, made by a controller.
    cluster.wait_for(
        f"the default service account of {name}",
        lambda: any(
            sa.metadata.name == "default" for sa in cluster.core.list_namespaced_service_account(name).items
        ),
    )
    return name


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Iterator[str]:
    name = make_namespace(cluster, "lb-test")
    yield name
    cluster.core.delete_namespace(name, propagation_policy="Background", grace_period_seconds=0)


@pytest.fixture
def make_job(namespace: str) -> Callable[..., Any]:
    """A KubernetesJob on the dev cluster's test image, in the module's namespace
    (run once: backoff_limit's default)."""
    from launchbay import KubernetesJob

    def make(command: list[str], **fields: Any) -> KubernetesJob:
        customizations = fields.pop("customizations", [])
        fields.setdefault("image", IMAGE)
        fields.setdefault("image_pull_policy", "IfNotPresent")
        fields.setdefault("namespace", namespace)
        return KubernetesJob(command=command, customizations=[QUICK_EXIT, *customizations], **fields)

    return make
