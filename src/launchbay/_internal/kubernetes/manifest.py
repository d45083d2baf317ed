"""The job manifest: the base manifest, validation of a user's manifest against
it, the shortcut patch built from a ``KubernetesJob``'s fields, and loading
manifests and patches from YAML or JSON files. Pure functions, no network."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    key = "LAUNCHBAY_API_URL"
    url = env.get(key)
    if not url or not dns_name or url != api_url_setting:
        return dict(env)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return dict(env)
    if host not in ("localhost", "127.0.0.1"):
        return dict(env)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    hostport = hostport.replace(host, dns_name, 1)
    return {**env, key: urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hostport}"))}


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
