"""What a ``KubernetesJob`` run creates, built without a cluster.

The base manifest and the validation of a user's manifest against it; the
shortcut patch made of the block's fields; ``build_job`` (the manifest: the
block's ``job``, then the shortcuts, then ``customizations``); and
``build_spec``, the frozen ``JobSpec`` the runner takes: that manifest plus
everything else a run needs (namespace, container, timeouts, whether to
stream the log, how to reach the cluster). Also loading manifests and patches
from YAML or JSON files. Pure functions, no network, no client library.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import jsonpatch

from launchbay._internal import urls
from launchbay._internal.kubernetes import slugs
from launchbay._internal.text import stable_hash

CONTAINER_NAME = "launchbay-job"
FIRST_CONTAINER = "/spec/template/spec/containers/0"
DEFAULT_NAMESPACE = "default"
GENERATED_NAME_PREFIX = "launchbay-job"


def base_job_manifest() -> dict[str, Any]:
    """The smallest job launchbay runs; a user's manifest must contain it."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"labels": {}},
        "spec": {
            "template": {
                "spec": {
                    "parallelism": 1,
                    "completions": 1,
                    "restartPolicy": "Never",
                    "containers": [{"name": CONTAINER_NAME, "env": []}],
                }
            }
        },
    }


# --- validation ---------------------------------------------------------------


def escape_pointer(token: str) -> str:
    """One JSON Pointer (RFC 6901) reference token: ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


def _compare(
    base: Any, value: Any, path: str, missing: list[str], incompatible: list[tuple[str, Any]]
) -> None:
    """Walk ``base``: an empty dict or list in it only has to exist in ``value``;
    anything else must be there with an equal value. A missing subtree is
    reported once, at its top (as a diff would)."""
    if isinstance(base, dict) and base:
        if not isinstance(value, dict):
            incompatible.append((path, base))
            return
        for key, sub_base in base.items():
            sub_path = f"{path}/{escape_pointer(str(key))}"
            if key not in value:
                missing.append(sub_path)
            else:
                _compare(sub_base, value[key], sub_path, missing, incompatible)
    elif isinstance(base, list) and base:
        if not isinstance(value, list):
            incompatible.append((path, base))
            return
        for index, sub_base in enumerate(base):
            sub_path = f"{path}/{index}"
            if index >= len(value):
                missing.append(sub_path)
            else:
                _compare(sub_base, value[index], sub_path, missing, incompatible)
    elif isinstance(base, (dict, list)):
        if not isinstance(value, type(base)):
            incompatible.append((path, base))
    elif value != base or type(value) is not type(base):
        incompatible.append((path, base))


def _differences(job: Any) -> tuple[list[str], list[tuple[str, Any]]]:
    missing: list[str] = []
    incompatible: list[tuple[str, Any]] = []
    _compare(base_job_manifest(), job, "", missing, incompatible)
    return missing, incompatible


def missing_paths(job: Mapping[str, Any]) -> list[str]:
    """Paths of the base manifest absent from ``job``, sorted."""
    return sorted(_differences(job)[0])


def incompatible_values(job: Mapping[str, Any]) -> list[str]:
    """``"/path must have value X"`` for each base value ``job`` contradicts, sorted."""
    return sorted(f"{path} must have value {value!r}" for path, value in _differences(job)[1])


def check_required_paths(job: Mapping[str, Any]) -> None:
    missing = missing_paths(job)
    if missing:
        raise ValueError("Job is missing required attributes at the following paths: " + ", ".join(missing))


def check_compatible_values(job: Mapping[str, Any]) -> None:
    incompatible = incompatible_values(job)
    if incompatible:
        raise ValueError(
            "Job has incompatible values for the following attributes: " + ", ".join(incompatible)
        )


def manifest_namespace(job: Mapping[str, Any]) -> str | None:
    metadata = job.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace or None


def manifest_image(job: Mapping[str, Any]) -> str | None:
    try:
        image = job["spec"]["template"]["spec"]["containers"][0].get("image")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return image or None


# --- the shortcut patch -----------------------------------------------------


def api_url_for_cluster(
    env: Mapping[str, str], api_url_setting: str | None, dns_name: str | None
) -> dict[str, str]:
    """Replace localhost in the API URL by ``dns_name`` when the URL came from
    the settings (not from the block's own ``env``): a pod cannot reach the
    launcher's localhost."""
    url = env.get(urls.API_URL_ENV)
    if not url or not dns_name or url != api_url_setting:
        return dict(env)
    rewritten = urls.local_url_rewritten(url, dns_name)
    return dict(env) if rewritten is None else {**env, urls.API_URL_ENV: rewritten}


def job_environment(
    env: Mapping[str, str | None],
    base_environment: Mapping[str, str],
    *,
    api_url_setting: str | None,
    dns_name: str | None,
) -> dict[str, str]:
    """The base environment overridden by ``env``, ``None`` dropped, the API URL
    made reachable from a pod."""
    merged = {**base_environment, **env}
    present = {key: value for key, value in merged.items() if value is not None}
    from_settings = None if urls.API_URL_ENV in env else api_url_setting
    return api_url_for_cluster(present, from_settings, dns_name)


def generate_name(name: str | None, command: list[str] | None, env: Mapping[str, str | None]) -> str:
    """``metadata.generateName``: the slugified name, or when there is none (or
    nothing is left of it) ``launchbay-job-<stable hash>``, plus ``-``."""
    slug = slugs.job_name(name) if name else ""
    if not slug:
        values = [value for value in env.values() if value is not None]
        slug = f"{GENERATED_NAME_PREFIX}-{stable_hash(*(command or []), *env.keys(), *values)}"
    return f"{slug}-"


def shortcut_patch(
    *,
    namespace: str | None,
    image: str | None,
    labels: Mapping[str, str],
    environment: Mapping[str, str],
    image_pull_policy: str | None,
    service_account_name: str | None,
    finished_job_ttl: int | None,
    command: list[str] | None,
    generate_name: str,
) -> list[dict[str, Any]]:
    """The JSON patch that applies a ``KubernetesJob``'s shortcut fields, in
    SPEC order."""
    patch: list[dict[str, Any]] = []
    if namespace:
        patch.append({"op": "add", "path": "/metadata/namespace", "value": namespace})
    if image:
        patch.append({"op": "add", "path": f"{FIRST_CONTAINER}/image", "value": image})
    for key, value in labels.items():
        path = f"/metadata/labels/{escape_pointer(slugs.label_key(key))}"
        patch.append({"op": "add", "path": path, "value": slugs.label_value(value)})
    for key, value in environment.items():
        patch.append(
            {"op": "add", "path": f"{FIRST_CONTAINER}/env/-", "value": {"name": key, "value": value}}
        )
    if image_pull_policy:
        patch.append({"op": "add", "path": f"{FIRST_CONTAINER}/imagePullPolicy", "value": image_pull_policy})
    if service_account_name:
        patch.append(
            {"op": "add", "path": "/spec/template/spec/serviceAccountName", "value": service_account_name}
        )
    if finished_job_ttl is not None:
        patch.append({"op": "add", "path": "/spec/ttlSecondsAfterFinished", "value": finished_job_ttl})
    if command:
        patch.append({"op": "add", "path": f"{FIRST_CONTAINER}/args", "value": list(command)})
    patch.append({"op": "add", "path": "/metadata/generateName", "value": generate_name})
    return patch


# --- the manifest and the spec of a run ----------------------------------------------


class ClusterConfigFields(Protocol):
    """A stored cluster configuration (``KubernetesClusterConfig`` has these)."""

    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def context_name(self) -> str: ...


class JobFields(Protocol):
    """The block's values a job is built from (``KubernetesJob`` has them)."""

    @property
    def name(self) -> str | None: ...
    @property
    def command(self) -> list[str] | None: ...
    @property
    def env(self) -> dict[str, str | None]: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def image(self) -> str | None: ...
    @property
    def image_pull_policy(self) -> Enum | None: ...
    @property
    def service_account_name(self) -> str | None: ...
    @property
    def finished_job_ttl(self) -> int | None: ...
    @property
    def job(self) -> dict[str, Any]: ...
    @property
    def customizations(self) -> jsonpatch.JsonPatch: ...
    @property
    def cluster_config(self) -> ClusterConfigFields | None: ...
    @property
    def pod_watch_timeout_seconds(self) -> int: ...
    @property
    def job_watch_timeout_seconds(self) -> int | None: ...
    @property
    def pod_failure_grace_seconds(self) -> float | None: ...
    @property
    def stream_output(self) -> bool: ...


def build_job(fields: JobFields, environment: Mapping[str, str]) -> dict[str, Any]:
    """The manifest a run creates: a copy of ``job``, then the shortcut fields
    (with ``environment``, see ``job_environment``), then ``customizations``."""
    policy = fields.image_pull_policy
    shortcuts = shortcut_patch(
        namespace=fields.namespace,
        image=fields.image,
        labels=fields.labels,
        environment=environment,
        image_pull_policy=str(policy.value) if policy is not None else None,
        service_account_name=fields.service_account_name,
        finished_job_ttl=fields.finished_job_ttl,
        command=fields.command,
        generate_name=generate_name(fields.name, fields.command, fields.env),
    )
    job = copy.deepcopy(fields.job)
    try:
        job = jsonpatch.JsonPatch(shortcuts).apply(job)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ValueError(f"Cannot apply the job's fields to its manifest: {exc}") from None
    try:
        patched: dict[str, Any] = fields.customizations.apply(job)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ValueError(f"Cannot apply customizations to the job manifest: {exc}") from None
    return patched


@dataclass(frozen=True)
class ClusterInputs:
    """How a run reaches its cluster: a stored kubeconfig and the context to
    use from it (None: the in-cluster service account, else the local
    kubeconfig), and the cluster UID the settings give (None: read it)."""

    kubeconfig: Mapping[str, Any] | None = None
    context: str | None = None
    cluster_uid: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """Everything one run needs (frozen: built once, then only read)."""

    manifest: Mapping[str, Any]  # the job to create, as build_job made it
    namespace: str  # the manifest's (the runner checks pids against it)
    pod_watch_timeout_seconds: float
    job_watch_timeout_seconds: float | None
    pod_failure_grace_seconds: float | None
    stream_output: bool
    cluster: ClusterInputs = field(default_factory=ClusterInputs)
    container_name: str = CONTAINER_NAME  # the container whose log and exit code count


def build_spec(
    fields: JobFields,
    *,
    base_environment: Mapping[str, str],
    api_url_setting: str | None,
    dns_name: str | None,
    cluster_uid: str | None,
) -> JobSpec:
    """The spec of one run of ``fields``, with the settings' values passed in."""
    environment = job_environment(
        fields.env, base_environment, api_url_setting=api_url_setting, dns_name=dns_name
    )
    job = build_job(fields, environment)
    config = fields.cluster_config
    return JobSpec(
        manifest=job,
        namespace=manifest_namespace(job) or DEFAULT_NAMESPACE,
        pod_watch_timeout_seconds=fields.pod_watch_timeout_seconds,
        job_watch_timeout_seconds=fields.job_watch_timeout_seconds,
        pod_failure_grace_seconds=fields.pod_failure_grace_seconds,
        stream_output=fields.stream_output,
        cluster=ClusterInputs(
            kubeconfig=config.config if config is not None else None,
            context=config.context_name if config is not None else None,
            cluster_uid=cluster_uid or None,
        ),
    )


# --- files ------------------------------------------------------------------------


def load_document(path: str | Path, what: str) -> Any:
    """A YAML or JSON file's content (JSON is YAML, so one parser reads both)."""
    import yaml

    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} file {str(file)!r} does not exist.") from None
    except OSError as exc:
        raise ValueError(f"Cannot read {what} file {str(file)!r}: {exc.strerror or exc}.") from None
    try:
        if file.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{what} file {str(file)!r} is neither valid YAML nor JSON: {exc}") from None
