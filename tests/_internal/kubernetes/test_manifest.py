"""The base manifest, its validation and the shortcut patch (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonpatch
import pytest

from launchbay._internal.kubernetes import manifest


def test_base_job_manifest_shape() -> None:
    assert manifest.base_job_manifest() == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"labels": {}},
        "spec": {
            "template": {
                "spec": {
                    "parallelism": 1,
                    "completions": 1,
                    "restartPolicy": "Never",
                    "containers": [{"name": "launchbay-job", "env": []}],
                }
            }
        },
    }
    # A fresh copy each time: callers may mutate it.
    first = manifest.base_job_manifest()
    first["metadata"]["labels"]["x"] = "y"
    assert manifest.base_job_manifest()["metadata"]["labels"] == {}


def test_missing_paths_are_reported_at_their_top_sorted() -> None:
    assert manifest.missing_paths({}) == ["/apiVersion", "/kind", "/metadata", "/spec"]
    job = manifest.base_job_manifest()
    del job["spec"]["template"]["spec"]["containers"][0]["env"]
    del job["metadata"]["labels"]
    job["spec"]["template"]["spec"].pop("restartPolicy")
    assert manifest.missing_paths(job) == [
        "/metadata/labels",
        "/spec/template/spec/containers/0/env",
        "/spec/template/spec/restartPolicy",
    ]
    job["spec"]["template"]["spec"]["containers"] = []
    assert "/spec/template/spec/containers/0" in manifest.missing_paths(job)


def test_extra_content_is_allowed() -> None:
    job = manifest.base_job_manifest()
    job["metadata"]["labels"] = {"team": "data"}
    job["metadata"]["namespace"] = "ns"
    job["spec"]["backoffLimit"] = 2
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "A", "value": "1"}]
    container["resources"] = {"limits": {"memory": "64Mi"}}
    job["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "x"})
    assert manifest.missing_paths(job) == []
    assert manifest.incompatible_values(job) == []


def test_incompatible_values_quote_the_required_value_sorted() -> None:
    job = manifest.base_job_manifest()
    job["kind"] = "Pod"
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    job["spec"]["template"]["spec"]["containers"][0]["name"] = "main"
    job["spec"]["template"]["spec"]["parallelism"] = True  # equal to 1, but not an int
    assert manifest.incompatible_values(job) == [
        "/kind must have value 'Job'",
        "/spec/template/spec/containers/0/name must have value 'launchbay-job'",
        "/spec/template/spec/parallelism must have value 1",
        "/spec/template/spec/restartPolicy must have value 'Never'",
    ]
    job = manifest.base_job_manifest()
    job["metadata"] = "not a mapping"
    assert manifest.incompatible_values(job) == ["/metadata must have value {'labels': {}}"]


def test_validator_messages() -> None:
    with pytest.raises(
        ValueError,
        match=r"^Job is missing required attributes at the following paths: /apiVersion, /kind, /metadata, /spec$",
    ):
        manifest.check_required_paths({})
    job = manifest.base_job_manifest()
    job["apiVersion"] = "batch/v2"
    with pytest.raises(
        ValueError,
        match=r"^Job has incompatible values for the following attributes: /apiVersion must have value 'batch/v1'$",
    ):
        manifest.check_compatible_values(job)


def test_pointer_escaping() -> None:
    assert manifest.escape_pointer("launchbay.io/flow-run-id") == "launchbay.io~1flow-run-id"
    assert manifest.escape_pointer("a~b/c") == "a~0b~1c"


def test_generate_name() -> None:
    assert manifest.generate_name("infra9.-foo_bar^x", None, {}) == "infra9-foo-bar-x-"
    assert manifest.generate_name("_infra_run", None, {}) == "infra-run-"
    unnamed = manifest.generate_name(None, ["echo", "hi"], {"A": "1", "B": None})
    assert unnamed.startswith("launchbay-job-") and unnamed.endswith("-")
    # Stable across calls (and machines: a content hash), sensitive to the inputs.
    assert unnamed == manifest.generate_name(None, ["echo", "hi"], {"A": "1", "B": None})
    assert unnamed != manifest.generate_name(None, ["echo", "ho"], {"A": "1", "B": None})
    assert unnamed != manifest.generate_name(None, ["echo", "hi"], {"A": "2", "B": None})
    assert unnamed != manifest.generate_name(None, ["echo", "hi"], {"A": "1"})
    # A name with nothing usable in it falls back to the hashed name.
    assert manifest.generate_name("--__....", ["echo"], {}) == manifest.generate_name(None, ["echo"], {})


def test_shortcut_patch_order_and_content() -> None:
    patch = manifest.shortcut_patch(
        namespace="ns",
        image="img:1",
        labels={"launchbay.io/flow-run-name": "my run"},
        environment={"A": "1"},
        image_pull_policy="Never",
        service_account_name="robot",
        finished_job_ttl=0,
        command=["sh", "-c", "exit 3"],
        generate_name="job-",
    )
    assert patch == [
        {"op": "add", "path": "/metadata/namespace", "value": "ns"},
        {"op": "add", "path": "/spec/template/spec/containers/0/image", "value": "img:1"},
        {"op": "add", "path": "/metadata/labels/launchbay.io~1flow-run-name", "value": "my-run"},
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "A", "value": "1"}},
        {"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"},
        {"op": "add", "path": "/spec/template/spec/serviceAccountName", "value": "robot"},
        {"op": "add", "path": "/spec/ttlSecondsAfterFinished", "value": 0},
        {"op": "add", "path": "/spec/template/spec/containers/0/args", "value": ["sh", "-c", "exit 3"]},
        {"op": "add", "path": "/metadata/generateName", "value": "job-"},
    ]
    minimal = manifest.shortcut_patch(
        namespace=None,
        image=None,
        labels={},
        environment={},
        image_pull_policy=None,
        service_account_name=None,
        finished_job_ttl=None,
        command=None,
        generate_name="x-",
    )
    assert minimal == [{"op": "add", "path": "/metadata/generateName", "value": "x-"}]


def _minimal(**more: object) -> list[dict[str, object]]:
    return manifest.shortcut_patch(
        namespace=None,
        image=None,
        labels={},
        environment={},
        image_pull_policy=None,
        service_account_name=None,
        finished_job_ttl=None,
        command=None,
        generate_name="x-",
        **more,  # type: ignore[arg-type]
    )


def test_backoff_limit_and_deadline_shortcuts() -> None:
    assert _minimal(backoff_limit=0, timeout_seconds=2.5) == [
        {"op": "add", "path": "/spec/backoffLimit", "value": 0},
        # Whole seconds, rounded up, and a margin: the run stops itself first.
        {"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 3 + manifest.DEADLINE_MARGIN_SECONDS},
        {"op": "add", "path": "/metadata/generateName", "value": "x-"},
    ]
    assert manifest.active_deadline_seconds(0.2) == 1 + manifest.DEADLINE_MARGIN_SECONDS
    assert manifest.active_deadline_seconds(None) is None
    # A manifest with its own backoff limit keeps it.
    job = manifest.base_job_manifest()
    job["spec"]["backoffLimit"] = 4
    assert _minimal(backoff_limit=0, job=job) == [
        {"op": "add", "path": "/metadata/generateName", "value": "x-"}
    ]
    assert _minimal(backoff_limit=None) == [{"op": "add", "path": "/metadata/generateName", "value": "x-"}]


def test_placement_shortcuts_add_the_parents_a_manifest_lacks() -> None:
    placement = manifest.Placement(
        cpu_request="250m",
        memory_limit="64Mi",
        gpus=1,
        node_selector={"disk": "ssd", "example.com/zone": "a"},
        tolerations=({"key": "gpu", "operator": "Exists"},),
        image_pull_secrets=("registry",),
    )
    container = "/spec/template/spec/containers/0"
    assert _minimal(placement=placement)[:-1] == [
        {"op": "add", "path": f"{container}/resources", "value": {}},
        {"op": "add", "path": f"{container}/resources/requests", "value": {}},
        {"op": "add", "path": f"{container}/resources/requests/cpu", "value": "250m"},
        {"op": "add", "path": f"{container}/resources/limits", "value": {}},
        {"op": "add", "path": f"{container}/resources/limits/memory", "value": "64Mi"},
        {"op": "add", "path": f"{container}/resources/limits/nvidia.com~1gpu", "value": "1"},
        {"op": "add", "path": "/spec/template/spec/nodeSelector", "value": {}},
        {"op": "add", "path": "/spec/template/spec/nodeSelector/disk", "value": "ssd"},
        {"op": "add", "path": "/spec/template/spec/nodeSelector/example.com~1zone", "value": "a"},
        {
            "op": "add",
            "path": "/spec/template/spec/tolerations",
            "value": [{"key": "gpu", "operator": "Exists"}],
        },
        {"op": "add", "path": "/spec/template/spec/imagePullSecrets", "value": [{"name": "registry"}]},
    ]
    # Into a manifest that has them: merged (the fields win per key), lists appended.
    job = manifest.base_job_manifest()
    pod = job["spec"]["template"]["spec"]
    pod["containers"][0]["resources"] = {"limits": {"memory": "1Gi", "cpu": "2"}}
    pod["nodeSelector"] = {"disk": "hdd", "arch": "amd64"}
    pod["tolerations"] = [{"key": "spot", "operator": "Exists"}]
    pod["imagePullSecrets"] = [{"name": "other"}]
    fields = fresh_fields()
    fields.job = job
    fields.cpu_request, fields.memory_limit, fields.gpus = "250m", "64Mi", 1
    fields.node_selector = dict(placement.node_selector)
    fields.tolerations = [dict(item) for item in placement.tolerations]
    fields.image_pull_secrets = ["registry"]
    built = manifest.build_job(fields, {})["spec"]["template"]["spec"]
    assert built["containers"][0]["resources"] == {
        "limits": {"memory": "64Mi", "cpu": "2", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "250m"},
    }
    assert built["nodeSelector"] == {"disk": "ssd", "arch": "amd64", "example.com/zone": "a"}
    assert built["tolerations"] == [
        {"key": "spot", "operator": "Exists"},
        {"key": "gpu", "operator": "Exists"},
    ]
    assert built["imagePullSecrets"] == [{"name": "other"}, {"name": "registry"}]
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "hdd", "arch": "amd64"}  # untouched


def test_customizations_override_the_backoff_limit_and_may_replace_spec() -> None:
    fields = fresh_fields()
    fields.customizations = jsonpatch.JsonPatch([{"op": "replace", "path": "/spec/backoffLimit", "value": 3}])
    assert manifest.build_job(fields, {})["spec"]["backoffLimit"] == 3
    spec = manifest.base_job_manifest()["spec"]
    fields.customizations = jsonpatch.JsonPatch([{"op": "replace", "path": "/spec", "value": spec}])
    assert "backoffLimit" not in manifest.build_job(fields, {})["spec"]  # the user's whole spec
    fields.customizations = jsonpatch.JsonPatch([{"op": "remove", "path": "/spec/backoffLimit"}])
    assert "backoffLimit" not in manifest.build_job(fields, {})["spec"]  # Kubernetes' default, asked for


def test_redacted_masks_passwords_in_every_string() -> None:
    job = {
        "spec": {
            "env": [{"name": "DB", "value": "postgresql://u:PW@127.0.0.1/db"}],
            "args": ["sh", "-c", "psql postgresql://u:PW@h/db"],
            "n": 3,
        }
    }
    shown = manifest.redacted(job)
    assert "PW" not in json.dumps(shown)
    assert shown["spec"]["env"][0]["value"] == "postgresql://u:***@127.0.0.1/db"
    assert shown["spec"]["n"] == 3
    assert job["spec"]["env"][0]["value"] == "postgresql://u:PW@127.0.0.1/db"  # a copy


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:4200/api", "http://launchbay.svc:4200/api"),
        ("http://127.0.0.1/api", "http://launchbay.svc/api"),
        ("http://user:pw@localhost:1/api", "http://user:pw@launchbay.svc:1/api"),
        ("http://example.com/api", "http://example.com/api"),
        # Hosts are case-insensitive: LOCALHOST is localhost too.
        ("http://LOCALHOST:4200", "http://launchbay.svc:4200"),
        ("http://LocalHost:4200/api", "http://launchbay.svc:4200/api"),
        ("http://localhost.example.com/api", "http://localhost.example.com/api"),
    ],
)
def test_api_url_for_cluster(url: str, expected: str) -> None:
    env = {"LAUNCHBAY_API_URL": url, "OTHER": "localhost"}
    result = manifest.api_url_for_cluster(env, url, "launchbay.svc")
    assert result == {"LAUNCHBAY_API_URL": expected, "OTHER": "localhost"}
    # Not from the settings, or no DNS name: untouched.
    assert manifest.api_url_for_cluster(env, None, "launchbay.svc") == env
    assert manifest.api_url_for_cluster(env, url, None) == env


def test_job_environment() -> None:
    base = {"LAUNCHBAY_API_URL": "http://localhost:4200/api", "LAUNCHBAY_HOME": "/h"}
    env = manifest.job_environment(
        {"A": "1", "LAUNCHBAY_HOME": None}, base, api_url_setting=base["LAUNCHBAY_API_URL"], dns_name="svc"
    )
    # The base environment overridden by env, None dropped, the API URL reachable from a pod.
    assert env == {"LAUNCHBAY_API_URL": "http://svc:4200/api", "A": "1"}
    # An API URL the block's own env gives is the user's: kept as written.
    own = manifest.job_environment(
        {"LAUNCHBAY_API_URL": "http://localhost:1"},
        base,
        api_url_setting=base["LAUNCHBAY_API_URL"],
        dns_name="svc",
    )
    assert own["LAUNCHBAY_API_URL"] == "http://localhost:1"


class Fields:
    """A stand-in for a KubernetesJob's values."""

    name = "My Run"
    command = ["echo", "hi"]
    env: dict[str, str | None] = {"A": "1"}
    labels = {"team": "Data Science"}
    namespace = None
    image = "img:1"
    image_pull_policy = None
    service_account_name = None
    finished_job_ttl = None
    job = manifest.base_job_manifest()
    customizations = jsonpatch.JsonPatch([{"op": "add", "path": "/spec/backoffLimit", "value": 0}])
    cluster_config = None
    pod_watch_timeout_seconds = 60
    job_watch_timeout_seconds = None
    pod_failure_grace_seconds = 10.0
    stream_output = True
    backoff_limit: int | None = 2  # the customizations (0) come after, and win
    timeout_seconds: float | None = None
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    gpus: int | None = None
    node_selector: dict[str, str] = {}
    tolerations: list[dict[str, object]] = []
    image_pull_secrets: list[str] = []


def fresh_fields() -> Fields:
    """A stand-in with values of its own (the class attributes are shared)."""
    fields = Fields()
    fields.node_selector, fields.tolerations, fields.image_pull_secrets = {}, [], []
    fields.customizations = jsonpatch.JsonPatch([])
    fields.backoff_limit = 0
    fields.job = manifest.base_job_manifest()
    return fields


def test_build_spec_is_pure_and_frozen() -> None:
    fields = Fields()
    spec = manifest.build_spec(
        fields, base_environment={"LAUNCHBAY_HOME": "/h"}, api_url_setting=None, dns_name=None, cluster_uid=""
    )
    job = spec.manifest
    assert job["metadata"] == {"labels": {"team": "Data-Science"}, "generateName": "my-run-"}
    assert job["spec"]["backoffLimit"] == 0  # customizations come last
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "LAUNCHBAY_HOME", "value": "/h"}, {"name": "A", "value": "1"}]
    assert (container["image"], container["args"]) == ("img:1", ["echo", "hi"])
    assert spec.namespace == "default"  # neither the fields nor the manifest name one
    assert spec.cluster == manifest.ClusterInputs()  # an empty cluster UID setting is none
    assert fields.job == manifest.base_job_manifest()  # the block's manifest is left alone
    with pytest.raises(ValueError, match="Cannot apply customizations"):
        bad = Fields()
        bad.customizations = jsonpatch.JsonPatch([{"op": "remove", "path": "/nope"}])
        manifest.build_job(bad, {})


def test_load_document_yaml_json_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\nb: [x, y]\n")
    (tmp_path / "a.json").write_text(json.dumps({"a": 1}))
    assert manifest.load_document(tmp_path / "a.yaml", "X") == {"a": 1, "b": ["x", "y"]}
    assert manifest.load_document(tmp_path / "a.json", "X") == {"a": 1}
    with pytest.raises(ValueError, match="does not exist"):
        manifest.load_document(tmp_path / "missing.yaml", "Job manifest")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="neither valid YAML nor JSON"):
        manifest.load_document(tmp_path / "bad.json", "Job manifest")
