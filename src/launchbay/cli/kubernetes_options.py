"""The Kubernetes flags of ``run``/``preview``/``block save`` -> ``KubernetesJob``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launchbay.cli.options import InfraOptions


def build_kubernetes_job(options: InfraOptions, values: dict[str, Any]) -> Any:
    from launchbay.infrastructure.kubernetes import KubernetesJob

    fields: dict[str, Any] = dict(values)
    if options.kubernetes:
        fields["image"] = options.kubernetes
    if options.namespace:
        fields["namespace"] = options.namespace
    if options.job_file:
        fields["job"] = KubernetesJob.job_from_file(options.job_file)
    if options.customization:
        text = options.customization
        if text.startswith("@"):
            fields["customizations"] = KubernetesJob.customize_from_file(Path(text[1:]))
        else:
            fields["customizations"] = text
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
