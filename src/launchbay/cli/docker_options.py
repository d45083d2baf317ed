"""The Docker flags of ``run``/``preview``/``block save`` -> ``DockerContainer``."""

from __future__ import annotations

from typing import Any

from launchbay.cli.options import InfraOptions


def build_docker_container(options: InfraOptions, values: dict[str, Any]) -> Any:
    from launchbay.infrastructure.container import DockerContainer

    fields: dict[str, Any] = dict(values)
    if options.docker:
        fields["image"] = options.docker
    if options.pull:
        fields["image_pull_policy"] = options.pull.upper().replace("-", "_")
    if options.volume:
        fields["volumes"] = list(options.volume)
    if options.network:
        fields["networks"] = list(options.network)
    if options.network_mode:
        fields["network_mode"] = options.network_mode
    if options.mem_limit:
        fields["mem_limit"] = options.mem_limit
    if options.memswap_limit:
        fields["memswap_limit"] = options.memswap_limit
    if options.privileged:
        fields["privileged"] = True
    if options.auto_remove:
        fields["auto_remove"] = True
    if options.registry:
        from launchbay.blocks.docker import DockerRegistry

        fields["image_registry"] = DockerRegistry.load(options.registry)
    return DockerContainer(**fields)
