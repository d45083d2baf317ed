"""KubernetesJob as a block: fields, validation, build_job, preview (no cluster)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jsonpatch
import pytest
import yaml
from pydantic import ValidationError

from launchbay import (
    Block,
    Deployment,
    Flow,
    FlowRun,
    Infrastructure,
    KubernetesClusterConfig,
    KubernetesImagePullPolicy,
    KubernetesJob,
    KubernetesJobResult,
)
from launchbay._internal.exits import ExitReason
from launchbay._internal.images import default_image
from launchbay._internal.kubernetes.manifest import ClusterInputs
from launchbay.infrastructure.kubernetes import JobCustomizations

CONTAINER = ("spec", "template", "spec", "containers", 0)


def container(job: dict) -> dict:
    node = job
    for key in CONTAINER:
        node = node[key]
    return node


def test_defaults() -> None:
    job = KubernetesJob()
    assert job.type == "kubernetes-job"
    assert job.namespace == "default"
    assert job.image == default_image()
    assert job.job == KubernetesJob.base_job_manifest()
    assert job.customizations.patch == []
    assert job.service_account_name is None and job.image_pull_policy is None
    assert job.cluster_config is None
    assert job.job_watch_timeout_seconds is None
    assert job.pod_watch_timeout_seconds == 60
    assert job.pod_failure_grace_seconds == 10
    assert job.stream_output is True
    assert job.finished_job_ttl is None
    assert job.backoff_limit == 0 and job.timeout_seconds is None
    assert (job.cpu_request, job.cpu_limit, job.memory_request, job.memory_limit, job.gpus) == (None,) * 5
    assert (job.node_selector, job.tolerations, job.image_pull_secrets) == ({}, [], [])
    assert KubernetesJob.get_block_type_slug() == "kubernetes-job"
    assert "run-infrastructure" in KubernetesJob.get_block_capabilities()
    assert job.logger.name == "launchbay.infrastructure.kubernetes-job"
    assert isinstance(job, Infrastructure)


def test_namespace_and_image_come_from_the_manifest_when_it_has_them() -> None:
    manifest = KubernetesJob.base_job_manifest()
    manifest["metadata"]["namespace"] = "team"
    container(manifest)["image"] = "team/image:2"
    job = KubernetesJob(job=manifest, command=["true"])
    assert job.namespace is None and job.image is None
    built = job.build_job()
    assert built["metadata"]["namespace"] == "team"
    assert container(built)["image"] == "team/image:2"
    # Explicit fields win over the manifest.
    built = KubernetesJob(job=manifest, namespace="other", image="x:1").build_job()
    assert built["metadata"]["namespace"] == "other" and container(built)["image"] == "x:1"


def test_unsetting_namespace_restores_the_default() -> None:
    job = KubernetesJob(namespace="ns")
    job.namespace = None
    assert job.namespace == "default"


def test_job_validators_exact_messages() -> None:
    with pytest.raises(ValidationError) as info:
        KubernetesJob(job={"apiVersion": "batch/v1"})
    assert "Job is missing required attributes at the following paths: /kind, /metadata, /spec" in str(
        info.value
    )
    manifest = KubernetesJob.base_job_manifest()
    manifest["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    container(manifest)["name"] = "main"
    with pytest.raises(ValidationError) as info:
        KubernetesJob(job=manifest)
    assert (
        "Job has incompatible values for the following attributes: "
        "/spec/template/spec/containers/0/name must have value 'launchbay-job', "
        "/spec/template/spec/restartPolicy must have value 'Never'"
    ) in str(info.value)


CUSTOMIZATION = [{"op": "add", "path": "/spec/backoffLimit", "value": 0}]


@pytest.mark.parametrize(
    "value",
    [CUSTOMIZATION, json.dumps(CUSTOMIZATION), jsonpatch.JsonPatch(CUSTOMIZATION), CUSTOMIZATION[0]],
    ids=["list", "json-string", "patch", "single-operation"],
)
def test_customizations_accepted_forms(value: object) -> None:
    job = KubernetesJob(customizations=value)
    assert isinstance(job.customizations, jsonpatch.JsonPatch)
    assert job.customizations.patch == CUSTOMIZATION
    assert job.build_job()["spec"]["backoffLimit"] == 0


def test_customizations_bad_json_quotes_value_and_asks_for_json() -> None:
    with pytest.raises(ValidationError) as info:
        KubernetesJob(customizations="{'op': oops")
    message = str(info.value)
    assert "Unable to parse customizations as JSON: \"{'op': oops\"" in message
    assert "valid JSON string" in message


def test_customizations_invalid_patch() -> None:
    with pytest.raises(ValidationError, match="JSON patch"):
        KubernetesJob(customizations=[{"op": "frobnicate", "path": "/a"}])
    with pytest.raises(ValidationError, match="JSON patch"):
        KubernetesJob(customizations=42)


def test_build_job_applies_shortcuts_in_order_then_customizations(
    monkeypatch: pytest.MonkeyPatch, launchbay_home: Path
) -> None:
    monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "DEBUG")  # a setting the user set
    job = KubernetesJob(
        command=["sh", "-c", "echo hi; exit 3"],
        name="My Run",
        namespace="jobs",
        image="launchbay-test/busybox:1.35",
        labels={"launchbay.io/flow-run-id": "1234", "team": "Data Science"},
        env={"A": "1", "DROPPED": None, "LAUNCHBAY_LOGGING_LEVEL": "WARNING"},
        image_pull_policy=KubernetesImagePullPolicy.NEVER,
        service_account_name="robot",
        finished_job_ttl=30,
        customizations=[
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/resources",
                "value": {"limits": {"memory": "64Mi"}},
            },
            {"op": "replace", "path": "/metadata/namespace", "value": "patched"},  # runs after the shortcut
        ],
    )
    built = job.build_job()
    assert built["metadata"] == {
        "labels": {"launchbay.io/flow-run-id": "1234", "team": "Data-Science"},
        "namespace": "patched",
        "generateName": "my-run-",
    }
    assert built["spec"]["ttlSecondsAfterFinished"] == 30
    pod = built["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "robot"
    assert pod["restartPolicy"] == "Never"
    env = container(built).pop("env")
    # The base environment (settings the user set), overridden by `env`, None dropped.
    assert {item["name"]: item["value"] for item in env} == {
        "LAUNCHBAY_LOGGING_LEVEL": "WARNING",
        "LAUNCHBAY_HOME": str(launchbay_home),
        "A": "1",
    }
    assert len(env) == 3
    assert container(built) == {
        "name": "launchbay-job",
        "image": "launchbay-test/busybox:1.35",
        "imagePullPolicy": "Never",
        "args": ["sh", "-c", "echo hi; exit 3"],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    # build_job never changes the block's own manifest.
    assert job.job == KubernetesJob.base_job_manifest()


def test_environment_keeps_manifest_env_and_appends() -> None:
    manifest = KubernetesJob.base_job_manifest()
    container(manifest)["env"] = [{"name": "FROM_MANIFEST", "value": "x"}]
    built = KubernetesJob(job=manifest, env={"B": "2"}).build_job()
    assert next(item["name"] for item in container(built)["env"]) == "FROM_MANIFEST"
    assert {"name": "B", "value": "2"} in container(built)["env"]


def test_api_url_localhost_replaced_by_dns_name_only_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://localhost:4200/api")
    monkeypatch.setenv("LAUNCHBAY_API_DNS_NAME", "host.example")

    def env_of(job: KubernetesJob) -> dict[str, str]:
        return {item["name"]: item["value"] for item in container(job.build_job())["env"]}

    assert env_of(KubernetesJob())["LAUNCHBAY_API_URL"] == "http://host.example:4200/api"
    own = KubernetesJob(env={"LAUNCHBAY_API_URL": "http://localhost:4200/api"})
    assert env_of(own)["LAUNCHBAY_API_URL"] == "http://localhost:4200/api"
    monkeypatch.delenv("LAUNCHBAY_API_DNS_NAME")
    assert env_of(KubernetesJob())["LAUNCHBAY_API_URL"] == "http://localhost:4200/api"
    # Whatever the case the host is written in.
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://LOCALHOST:4200/api")
    monkeypatch.setenv("LAUNCHBAY_API_DNS_NAME", "host.example")
    assert env_of(KubernetesJob())["LAUNCHBAY_API_URL"] == "http://host.example:4200/api"


def test_generate_name_without_a_name_is_a_stable_hash() -> None:
    first = KubernetesJob(command=["echo", "hi"], env={"A": "1"}).build_job()["metadata"]["generateName"]
    second = KubernetesJob(command=["echo", "hi"], env={"A": "1"}).build_job()["metadata"]["generateName"]
    other = KubernetesJob(command=["echo", "ho"], env={"A": "1"}).build_job()["metadata"]["generateName"]
    assert first == second != other
    assert first.startswith("launchbay-job-") and first.endswith("-")
    # Same in a fresh interpreter (no per-process hash seed).
    code = "from launchbay import KubernetesJob; print(KubernetesJob(command=['echo','hi'], env={'A':'1'}).build_job()['metadata']['generateName'])"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == first
    )


def test_generate_name_from_names() -> None:
    assert (
        KubernetesJob(name="infra9.-foo_bar^x").build_job()["metadata"]["generateName"] == "infra9-foo-bar-x-"
    )
    assert KubernetesJob(name="_infra_run").build_job()["metadata"]["generateName"] == "infra-run-"
    fallback = KubernetesJob(name="!!!", command=["x"]).build_job()["metadata"]["generateName"]
    assert fallback.startswith("launchbay-job-")


def test_pull_policy_accepts_values_and_names() -> None:
    for text in ["IfNotPresent", "IF_NOT_PRESENT", "if-not-present", "ifnotpresent"]:
        assert (
            KubernetesJob(image_pull_policy=text).image_pull_policy
            is KubernetesImagePullPolicy.IF_NOT_PRESENT
        )
    with pytest.raises(ValidationError):
        KubernetesJob(image_pull_policy="Sometimes")


def test_negative_timeouts_rejected() -> None:
    with pytest.raises(ValidationError, match="must not be negative"):
        KubernetesJob(pod_watch_timeout_seconds=-1)


def test_preview_is_the_yaml_of_build_job() -> None:
    job = KubernetesJob(command=["echo", "hi"], name="preview", labels={"a": "b"})
    text = job.preview()
    assert yaml.safe_load(text) == job.build_job()
    assert text.startswith("apiVersion: batch/v1\nkind: Job\n")  # manifest order kept


def test_job_from_file_and_customize_from_file(tmp_path: Path) -> None:
    manifest = KubernetesJob.base_job_manifest()
    manifest["spec"]["backoffLimit"] = 2
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest))
    (tmp_path / "job.json").write_text(json.dumps(manifest))
    assert KubernetesJob.job_from_file(tmp_path / "job.yaml") == manifest
    assert KubernetesJob.job_from_file(str(tmp_path / "job.json")) == manifest
    (tmp_path / "patch.yaml").write_text(yaml.safe_dump(CUSTOMIZATION))
    (tmp_path / "patch.json").write_text(json.dumps(CUSTOMIZATION))
    for name in ["patch.yaml", "patch.json"]:
        patch = KubernetesJob.customize_from_file(tmp_path / name)
        assert isinstance(patch, JobCustomizations) and patch.patch == CUSTOMIZATION
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must contain a mapping"):
        KubernetesJob.job_from_file(tmp_path / "list.yaml")
    job = KubernetesJob(
        job=KubernetesJob.job_from_file(tmp_path / "job.yaml"),
        customizations=KubernetesJob.customize_from_file(tmp_path / "patch.yaml"),
    )
    assert job.build_job()["spec"]["backoffLimit"] == 0


def test_json_round_trip_with_customizations_and_cluster_config() -> None:
    cluster = KubernetesClusterConfig(
        config={
            "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "t0ken"}}],
        },
        context_name="dev",
    )
    job = KubernetesJob(
        command=["echo"],
        cluster_config=cluster,
        customizations=CUSTOMIZATION,
        image_pull_policy="Never",
        labels={"a": "b"},
        env={"X": None},
    )
    data = job.model_dump(mode="json")
    assert data["customizations"] == CUSTOMIZATION  # the list of operations
    assert data["image_pull_policy"] == "Never"
    revealed = job.model_dump_json(context={"reveal_secrets": True})
    assert KubernetesJob.model_validate_json(revealed) == job
    assert Infrastructure.model_validate(json.loads(revealed)) == job  # `type` selects the class
    assert "t0ken" not in job.model_dump_json() and "t0ken" not in repr(job)
    job.save("k8s")
    loaded = Block.load("kubernetes-job/k8s")
    assert loaded == job and loaded.cluster_config.config == cluster.config


def test_prepare_for_flow_run_labels_become_valid_kubernetes_labels() -> None:
    from datetime import datetime, timezone

    flow_run = FlowRun(name="calm-otter")
    prepared = KubernetesJob().prepare_for_flow_run(
        flow_run,
        Deployment(
            name="nightly etl", updated=datetime(2022, 11, 10, 16, 50, 59, 500000, tzinfo=timezone.utc)
        ),
        Flow(name="ETL"),
    )
    built = prepared.build_job()
    labels = built["metadata"]["labels"]
    assert labels["launchbay.io/flow-run-id"] == str(flow_run.id)
    assert labels["launchbay.io/deployment-name"] == "nightly-etl"
    assert labels["launchbay.io/deployment-updated"] == "2022-11-10T16-50-59.500000Z"  # SPEC 4: the Z form
    assert labels["launchbay.io/flow-name"] == "ETL"
    assert built["metadata"]["generateName"] == "calm-otter-"
    assert container(built)["args"] == ["python", "-m", "launchbay.engine"]
    env = {item["name"]: item["value"] for item in container(built)["env"]}
    assert env["LAUNCHBAY__FLOW_RUN_ID"] == flow_run.id.hex


# --- issue 12: runs once, timeouts, resources, credentials ---------------------------


def test_runs_once_unless_the_manifest_or_customizations_say_otherwise() -> None:
    assert KubernetesJob(command=["true"]).build_job()["spec"]["backoffLimit"] == 0
    assert KubernetesJob(command=["true"], backoff_limit=2).build_job()["spec"]["backoffLimit"] == 2
    assert "backoffLimit" not in KubernetesJob(command=["true"], backoff_limit=None).build_job()["spec"]
    manifest = KubernetesJob.base_job_manifest()
    manifest["spec"]["backoffLimit"] = 5
    assert KubernetesJob(job=manifest).build_job()["spec"]["backoffLimit"] == 5
    for op in ("add", "replace"):
        patched = KubernetesJob(customizations=[{"op": op, "path": "/spec/backoffLimit", "value": 3}])
        assert patched.build_job()["spec"]["backoffLimit"] == 3
    whole_spec = KubernetesJob(
        customizations=[
            {"op": "replace", "path": "/spec", "value": KubernetesJob.base_job_manifest()["spec"]}
        ]
    )
    assert "backoffLimit" not in whole_spec.build_job()["spec"]
    with pytest.raises(ValidationError):
        KubernetesJob(backoff_limit=-1)
    with pytest.raises(ValidationError, match="backoff_limit: must be a whole number"):
        KubernetesJob(backoff_limit=True)


def test_a_timeout_is_the_jobs_active_deadline_in_the_preview() -> None:
    from launchbay._internal.kubernetes.manifest import DEADLINE_MARGIN_SECONDS as MARGIN

    job = KubernetesJob(command=["sleep", "60"], timeout_seconds=2)
    # The cluster's deadline, a little after the run's own (launchbay stops it first).
    assert job.build_job()["spec"]["activeDeadlineSeconds"] == 2 + MARGIN
    assert f"activeDeadlineSeconds: {2 + MARGIN}\n" in job.preview()
    assert job._spec().timeout_seconds == 2
    assert KubernetesJob(timeout_seconds=0.5).build_job()["spec"]["activeDeadlineSeconds"] == 1 + MARGIN
    assert "activeDeadlineSeconds" not in KubernetesJob().build_job()["spec"]


def test_resources_and_placement_in_the_preview_exactly_as_sent() -> None:
    job = KubernetesJob(
        command=["true"],
        cpu_request="250m",
        cpu_limit=1.5,
        memory_request="64Mi",
        memory_limit="128Mi",
        gpus=2,
        node_selector={"disktype": "ssd"},
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        image_pull_secrets=["registry-login"],
    )
    built = job.build_job()
    pod = built["spec"]["template"]["spec"]
    assert container(built)["resources"] == {
        "requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "1.5", "memory": "128Mi", "nvidia.com/gpu": "2"},
    }
    assert pod["nodeSelector"] == {"disktype": "ssd"}
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert yaml.safe_load(job.preview()) == built
    # Before customizations: a customization still has the last word.
    patched = KubernetesJob(
        memory_limit="128Mi",
        customizations=[
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/resources/limits/memory",
                "value": "1Gi",
            }
        ],
    )
    assert container(patched.build_job())["resources"] == {"limits": {"memory": "1Gi"}}
    # JSON round trip keeps them.
    assert KubernetesJob.model_validate_json(job.model_dump_json()) == job


def test_bad_resources_are_clear_validation_errors() -> None:
    with pytest.raises(ValidationError) as info:
        KubernetesJob(memory_limit="12 GB")
    assert "memory_limit: '12 GB' is not a Kubernetes quantity" in str(info.value)
    with pytest.raises(ValidationError, match="cpu_request: '-1' is not a Kubernetes quantity"):
        KubernetesJob(cpu_request="-1")
    with pytest.raises(ValidationError, match=r"memory_request \(2Gi\) must not be more than memory_limit"):
        KubernetesJob(memory_request="2Gi", memory_limit="1Gi")
    with pytest.raises(ValidationError, match="gpus: must be a whole number"):
        KubernetesJob(gpus=True)
    with pytest.raises(ValidationError):
        KubernetesJob(gpus=-1)
    with pytest.raises(ValidationError, match=r"tolerations\[1\]: unknown key\(s\) colour"):
        KubernetesJob(tolerations=[{"operator": "Exists"}, {"key": "a", "colour": "red"}])
    with pytest.raises(ValidationError, match="must be a list of mappings"):
        KubernetesJob(tolerations="gpu")
    with pytest.raises(ValidationError, match="image_pull_secrets: must be a list of secret names"):
        KubernetesJob(image_pull_secrets=["ok", ""])
    with pytest.raises(ValidationError):
        KubernetesJob(node_selector={"a": 1})
    # One toleration or one secret name on its own is a list of one.
    assert KubernetesJob(tolerations={"operator": "Exists"}).tolerations == [{"operator": "Exists"}]
    assert KubernetesJob(image_pull_secrets="login").image_pull_secrets == ["login"]


def test_credentials_stay_out_of_the_job_and_the_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://u:PW@127.0.0.1/db"
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", url)
    job = KubernetesJob(command=["true"])
    env = {item["name"]: item["value"] for item in container(job.build_job())["env"]}
    assert "LAUNCHBAY_DATABASE_URL" not in env
    assert "PW" not in job.preview()
    # Asked for in the block's own env: in the Job, masked in the preview.
    asked = KubernetesJob(command=["sh", "-c", f"psql {url}"], env={"LAUNCHBAY_DATABASE_URL": url})
    env = {item["name"]: item["value"] for item in container(asked.build_job())["env"]}
    assert env["LAUNCHBAY_DATABASE_URL"] == url
    preview = asked.preview()
    assert "PW" not in preview and "postgresql://u:***@127.0.0.1/db" in preview


def test_result_type() -> None:
    assert KubernetesJobResult(identifier="u:ns:job", status_code=0)
    assert not KubernetesJobResult(identifier="u:ns:job", status_code=3)


def test_a_run_outcome_becomes_the_result() -> None:
    from launchbay._internal.kubernetes.runner import RunOutcome

    outcome = RunOutcome("u:ns:job", -1, "ErrImagePull: no such image", ExitReason.IMAGE_PULL_FAILED)
    result = KubernetesJob._result(outcome)
    assert isinstance(result, KubernetesJobResult)
    assert (result.identifier, result.status_code, result.reason, result.exit_reason) == (
        "u:ns:job",
        -1,
        "ErrImagePull: no such image",
        ExitReason.IMAGE_PULL_FAILED,
    )


def test_the_spec_of_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_KUBERNETES_CLUSTER_UID", raising=False)
    job = KubernetesJob(
        command=["true"],
        namespace="jobs",
        pod_watch_timeout_seconds=5,
        job_watch_timeout_seconds=7,
        pod_failure_grace_seconds=None,
        stream_output=False,
    )
    spec = job._spec()
    assert spec.manifest == job.build_job()
    assert (spec.namespace, spec.container_name) == ("jobs", "launchbay-job")
    assert (spec.pod_watch_timeout_seconds, spec.job_watch_timeout_seconds) == (5, 7)
    assert spec.pod_failure_grace_seconds is None and spec.stream_output is False
    assert spec.cluster == ClusterInputs(kubeconfig=None, context=None, cluster_uid=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.namespace = "other"  # type: ignore[misc]
    # The namespace of a manifest that names one; the cluster of a config block;
    # the cluster UID of the settings.
    manifest = KubernetesJob.base_job_manifest()
    manifest["metadata"]["namespace"] = "team"
    cluster = KubernetesClusterConfig(config={"contexts": []}, context_name="dev")
    monkeypatch.setenv("LAUNCHBAY_KUBERNETES_CLUSTER_UID", "my-cluster")
    spec = KubernetesJob(job=manifest, cluster_config=cluster)._spec()
    assert spec.namespace == "team"
    assert spec.cluster == ClusterInputs(kubeconfig={"contexts": []}, context="dev", cluster_uid="my-cluster")


def test_run_with_empty_command_raises() -> None:
    with pytest.raises(ValueError, match="cannot be run with empty command"):
        KubernetesJob().run()


def test_importing_does_not_load_kubernetes() -> None:
    code = (
        "import sys, launchbay.infrastructure.kubernetes as k, launchbay.blocks.kubernetes;"
        "k.KubernetesJob(command=['x']).preview();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'aiohttp', 'docker')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
