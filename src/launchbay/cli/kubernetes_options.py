"""The Kubernetes flags of ``run``/``preview``/``block save`` -> ``KubernetesJob``.

The table (``cli/flags.py``) says which field each flag sets (``cli/fields.py``); here is how the
values that need it are converted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchbay.cli.fields import Conversion
from launchbay.cli.flags import FlagError

if TYPE_CHECKING:
    from launchbay.blocks.kubernetes import KubernetesClusterConfig
    from launchbay.infrastructure.kubernetes import KubernetesJob

# `launchbay run --kubernetes IMAGE -- CMD` runs CMD once, as `docker run`
# would: unless the job file or a customization says otherwise, the job gets
# no retries (Kubernetes' own default is 6, with minutes of back-off).
RUN_ONCE = {"op": "add", "path": "/spec/backoffLimit", "value": 0}


def job_from_file(path: Path) -> dict[str, Any]:
    from launchbay.infrastructure.kubernetes import KubernetesJob

    return KubernetesJob.job_from_file(path)


def customizations(text: str) -> list[dict[str, Any]]:
    """A JSON patch given as JSON, or as @FILE."""
    from launchbay.infrastructure.kubernetes import KubernetesJob

    if text.startswith("@"):
        patch: list[dict[str, Any]] = KubernetesJob.customize_from_file(Path(text[1:]).expanduser()).patch
        return patch
    try:
        parsed: list[dict[str, Any]] = KubernetesJob.model_validate(
            {"customizations": text}
        ).customizations.patch
        return parsed
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        message = errors()[0]["msg"].removeprefix("Value error, ") if callable(errors) else str(exc)
        raise FlagError(message, param_hint="--customization") from None


def cluster_config_block(reference: str) -> KubernetesClusterConfig:
    from launchbay.blocks.kubernetes import KubernetesClusterConfig

    return KubernetesClusterConfig.load(reference)


CONVERSIONS: dict[str, Conversion] = {
    "job_file": job_from_file,
    "customization": customizations,
    "cluster_config": cluster_config_block,
}


def kubernetes_job(fields: dict[str, Any]) -> KubernetesJob:
    from launchbay.infrastructure.kubernetes import KubernetesJob

    patch: list[dict[str, Any]] = fields.get("customizations", [])
    if not _sets_backoff_limit(fields.get("job"), patch):
        patch = [RUN_ONCE, *patch]
    return KubernetesJob(**{**fields, "customizations": patch})


def _sets_backoff_limit(job: object, patch: list[dict[str, Any]]) -> bool:
    if isinstance(job, dict) and "backoffLimit" in (job.get("spec") or {}):
        return True
    return any(op.get("path") in ("/spec/backoffLimit", "/spec") for op in patch)
