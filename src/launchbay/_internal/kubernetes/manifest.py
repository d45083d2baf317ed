"""What a ``KubernetesJob`` run creates, built without a cluster.

The base manifest and the validation of a user's manifest against it; the
shortcut patch made of the block's fields (SPEC 7.3's, then the backoff
limit, a timeout's deadline, resources, node selector, tolerations and image
pull secrets, with the parent objects the manifest lacks); ``build_job`` (the manifest: the
block's ``job``, then the shortcuts, then ``customizations``); and
``build_spec``, the frozen ``JobSpec`` the runner takes: that manifest plus
everything else a run needs (namespace, container, timeouts, whether to
stream the log, how to reach the cluster). Also loading manifests and patches
from YAML or JSON files, and a copy of a manifest with passwords masked for
display. Pure functions, no network, no client library.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import jsonpatch

from launchbay._internal import urls
from launchbay._internal.fields import RunFields
from launchbay._internal.kubernetes import resources, slugs
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


@dataclass(frozen=True)
class Placement:
    """Where and with what the job's pod runs: the resource and scheduling
    shortcuts (already checked: see ``resources``)."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    gpus: int | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    image_pull_secrets: tuple[str, ...] = ()


def _exists(document: Any, tokens: tuple[str, ...]) -> bool:
    node = document
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _pointer(tokens: tuple[str, ...]) -> str:
    return "".join(f"/{escape_pointer(token)}" for token in tokens)


class _PatchBuilder:
    """Operations against a known manifest: a value set deep inside it gets
    the parent objects the manifest lacks added first (once)."""

    def __init__(self, job: Mapping[str, Any]) -> None:
        self.job = job
        self.operations: list[dict[str, Any]] = []
        self._added: set[tuple[str, ...]] = set()

    def add(self, path: str, value: Any) -> None:
        self.operations.append({"op": "add", "path": path, "value": value})

    def exists(self, tokens: tuple[str, ...]) -> bool:
        return tokens in self._added or _exists(self.job, tokens)

    def set(self, tokens: tuple[str, ...], value: Any) -> None:
        for depth in range(1, len(tokens)):
            parent = tokens[:depth]
            if not self.exists(parent):
                self.add(_pointer(parent), {})
                self._added.add(parent)
        self.add(_pointer(tokens), value)
        self._added.add(tokens)

    def extend(self, tokens: tuple[str, ...], items: list[Any]) -> None:
        """Append ``items`` to the list at ``tokens`` (made if missing)."""
        if not items:
            return
        if self.exists(tokens):
            for item in items:
                self.add(_pointer(tokens) + "/-", item)
        else:
            self.set(tokens, items)


POD_SPEC = ("spec", "template", "spec")
CONTAINER_TOKENS = (*POD_SPEC, "containers", "0")


# The cluster's deadline comes this long after the run's own: launchbay stops
# the run at its timeout itself (with the stop request's grace, and deletes
# the job); the job controller's deadline, whose start it rounds down to the
# second, is the backstop for a launchbay that is gone, and must not come first
# with the pods' own grace period instead.
DEADLINE_MARGIN_SECONDS = 5


def active_deadline_seconds(timeout_seconds: float | None) -> int | None:
    """The Job's ``activeDeadlineSeconds`` for a timeout: the timeout in whole
    seconds (rounded up) plus ``DEADLINE_MARGIN_SECONDS``."""
    if timeout_seconds is None:
        return None
    return math.ceil(timeout_seconds) + DEADLINE_MARGIN_SECONDS


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
    backoff_limit: int | None = None,
    timeout_seconds: float | None = None,
    placement: Placement | None = None,
    job: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The JSON patch that applies a ``KubernetesJob``'s shortcut fields, in
    SPEC order, to ``job`` (the block's manifest; by default the base one):
    SPEC 7.3's, then the backoff limit (only where ``job`` has none), the
    deadline of a timeout, resources, node selector, tolerations and image
    pull secrets; ``generateName`` last."""
    builder = _PatchBuilder(job if job is not None else base_job_manifest())
    if namespace:
        builder.add("/metadata/namespace", namespace)
    if image:
        builder.add(f"{FIRST_CONTAINER}/image", image)
    for key, value in labels.items():
        builder.add(f"/metadata/labels/{escape_pointer(slugs.label_key(key))}", slugs.label_value(value))
    for key, value in environment.items():
        builder.add(f"{FIRST_CONTAINER}/env/-", {"name": key, "value": value})
    if image_pull_policy:
        builder.add(f"{FIRST_CONTAINER}/imagePullPolicy", image_pull_policy)
    if service_account_name:
        builder.add("/spec/template/spec/serviceAccountName", service_account_name)
    if finished_job_ttl is not None:
        builder.add("/spec/ttlSecondsAfterFinished", finished_job_ttl)
    if command:
        builder.add(f"{FIRST_CONTAINER}/args", list(command))
    # The job's own backoff limit wins; customizations (applied after) win over both.
    if backoff_limit is not None and not builder.exists(("spec", "backoffLimit")):
        builder.add("/spec/backoffLimit", backoff_limit)
    deadline = active_deadline_seconds(timeout_seconds)
    if deadline is not None:
        builder.add("/spec/activeDeadlineSeconds", deadline)
    if placement is not None:
        _placement_operations(builder, placement)
    builder.add("/metadata/generateName", generate_name)
    return builder.operations


def _placement_operations(builder: _PatchBuilder, placement: Placement) -> None:
    requirements = resources.resource_requirements(
        cpu_request=placement.cpu_request,
        cpu_limit=placement.cpu_limit,
        memory_request=placement.memory_request,
        memory_limit=placement.memory_limit,
        gpus=placement.gpus,
    )
    for group, values in requirements.items():
        for name, value in values.items():
            builder.set((*CONTAINER_TOKENS, "resources", group, name), value)
    for key, value in placement.node_selector.items():
        builder.set((*POD_SPEC, "nodeSelector", key), value)
    builder.extend((*POD_SPEC, "tolerations"), [dict(item) for item in placement.tolerations])
    builder.extend((*POD_SPEC, "imagePullSecrets"), [{"name": name} for name in placement.image_pull_secrets])


# --- the manifest and the spec of a run ----------------------------------------------


class ClusterConfigFields(Protocol):
    """A stored cluster configuration (``KubernetesClusterConfig`` has these)."""

    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def context_name(self) -> str: ...


class JobFields(RunFields, Protocol):
    """The block's values a job is built from (``KubernetesJob`` has them),
    beyond those of every run."""

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
    @property
    def backoff_limit(self) -> int | None: ...
    @property
    def cpu_request(self) -> str | None: ...
    @property
    def cpu_limit(self) -> str | None: ...
    @property
    def memory_request(self) -> str | None: ...
    @property
    def memory_limit(self) -> str | None: ...
    @property
    def gpus(self) -> int | None: ...
    @property
    def node_selector(self) -> dict[str, str]: ...
    @property
    def tolerations(self) -> list[dict[str, Any]]: ...
    @property
    def image_pull_secrets(self) -> list[str]: ...


def placement_of(fields: JobFields) -> Placement:
    return Placement(
        cpu_request=fields.cpu_request,
        cpu_limit=fields.cpu_limit,
        memory_request=fields.memory_request,
        memory_limit=fields.memory_limit,
        gpus=fields.gpus,
        node_selector=dict(fields.node_selector),
        tolerations=tuple(fields.tolerations),
        image_pull_secrets=tuple(fields.image_pull_secrets),
    )


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
        backoff_limit=fields.backoff_limit,
        timeout_seconds=fields.timeout_seconds,
        placement=placement_of(fields),
        job=fields.job,
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
    # A run's own limit (None: none): the job is deleted once it has run this
    # long; its activeDeadlineSeconds in the manifest says the same to the cluster.
    timeout_seconds: float | None = None
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
        timeout_seconds=fields.timeout_seconds,
        cluster=ClusterInputs(
            kubeconfig=config.config if config is not None else None,
            context=config.context_name if config is not None else None,
            cluster_uid=cluster_uid or None,
        ),
    )


def redacted(document: Any) -> Any:
    """A copy of a manifest for display: the password of every URL in its
    strings (an environment value, an argument) masked."""
    if isinstance(document, str):
        return urls.redact_text(document)
    if isinstance(document, Mapping):
        return {key: redacted(value) for key, value in document.items()}
    if isinstance(document, list):
        return [redacted(item) for item in document]
    return document


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
