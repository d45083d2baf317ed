"""The Kubernetes flags of ``run``/``preview``/``block save`` -> ``KubernetesJob``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from launchbay.cli.options import InfraOptions

# `launchbay run --kubernetes IMAGE -- CMD` runs CMD once, as `docker run`
# would: unless the job file or a customization says otherwise, the job gets
# no retries (Kubernetes' own default is 6, with minutes of back-off).
RUN_ONCE = {"op": "add", "path": "/spec/backoffLimit", "value": 0}


def build_kubernetes_job(options: InfraOptions, values: dict[str, Any]) -> Any:
    from launchbay.infrastructure.kubernetes import KubernetesJob

    fields: dict[str, Any] = dict(values)
    if options.kubernetes:
        fields["image"] = options.kubernetes
    if options.namespace:
        fields["namespace"] = options.namespace
    if options.job_file:
        fields["job"] = KubernetesJob.job_from_file(options.job_file)
    customizations: list[dict[str, Any]] = []
    if options.customization:
        text = options.customization
        if text.startswith("@"):
            customizations = KubernetesJob.customize_from_file(Path(text[1:]).expanduser()).patch
        else:
            customizations = _parse_customizations(text)
    if not _sets_backoff_limit(fields.get("job"), customizations):
        customizations = [RUN_ONCE, *customizations]
    fields["customizations"] = customizations
    if options.cluster_config:
        from launchbay.blocks.kubernetes import KubernetesClusterConfig

        fields["cluster_config"] = KubernetesClusterConfig.load(options.cluster_config)
    if options.service_account:
        fields["service_account_name"] = options.service_account
    if options.pull_policy:
        fields["image_pull_policy"] = options.pull_policy
    if options.finished_job_ttl is not None:
        fields["finished_job_ttl"] = options.finished_job_ttl
    if options.job_watch_timeout is not None:
        fields["job_watch_timeout_seconds"] = options.job_watch_timeout
    return KubernetesJob(**fields)


def _parse_customizations(text: str) -> list[dict[str, Any]]:
    from launchbay.infrastructure.kubernetes import KubernetesJob

    try:
        return KubernetesJob(customizations=text).customizations.patch
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        message = errors()[0]["msg"].removeprefix("Value error, ") if callable(errors) else str(exc)
        raise typer.BadParameter(message, param_hint="--customization") from None


def _sets_backoff_limit(job: Any, customizations: list[dict[str, Any]]) -> bool:
    if isinstance(job, dict) and "backoffLimit" in (job.get("spec") or {}):
        return True
    return any(op.get("path") in ("/spec/backoffLimit", "/spec") for op in customizations)
