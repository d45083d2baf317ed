"""The Docker flags of ``run``/``preview``/``block save`` -> ``DockerContainer``."""

from __future__ import annotations

import re
from typing import Any

import typer

from launchbay.cli.options import InfraOptions

# --pull accepts Docker's spellings (always, never, missing) and launchbay's.
_PULL_POLICIES = {
    "always": "ALWAYS",
    "never": "NEVER",
    "if-not-present": "IF_NOT_PRESENT",
    "ifnotpresent": "IF_NOT_PRESENT",
    "missing": "IF_NOT_PRESENT",
}


def pull_policy(value: str) -> str:
    key = value.strip().lower().replace("_", "-")
    try:
        return _PULL_POLICIES[key]
    except KeyError:
        raise typer.BadParameter(
            f"unknown pull policy {value!r}: use always, never or if-not-present",
            param_hint="--pull",
        ) from None


def memory_size(value: str) -> int | str:
    """Plain numbers (and -1) as integers, sizes with a unit as written; the
    block validates both."""
    text = value.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def build_docker_container(options: InfraOptions, values: dict[str, Any]) -> Any:
    from launchbay.infrastructure.container import DockerContainer

    fields: dict[str, Any] = dict(values)
    if options.docker:
        fields["image"] = options.docker
    if options.pull:
        fields["image_pull_policy"] = pull_policy(options.pull)
    if options.volume:
        fields["volumes"] = list(options.volume)
    if options.network:
        fields["networks"] = list(options.network)
    if options.network_mode:
        fields["network_mode"] = options.network_mode
    if options.mem_limit:
        fields["mem_limit"] = memory_size(options.mem_limit)
    if options.memswap_limit:
        fields["memswap_limit"] = memory_size(options.memswap_limit)
    if options.privileged:
        fields["privileged"] = True
    if options.auto_remove:
        fields["auto_remove"] = True
    if options.registry:
        from launchbay.blocks.docker import DockerRegistry

        reference = options.registry.removeprefix("docker-registry/")
        fields["image_registry"] = DockerRegistry.load(reference)
    return DockerContainer(**fields)
