"""The Docker flags of ``run``/``preview``/``block save`` -> ``DockerContainer``.

The table (``cli/flags.py``) says which field each flag sets (``cli/fields.py``); here is how the
values that need it are converted."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from launchbay.cli.fields import Conversion, FieldValues
from launchbay.cli.flags import FlagError

if TYPE_CHECKING:
    from launchbay.blocks.docker import DockerRegistry
    from launchbay.infrastructure.container import DockerContainer

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
        raise FlagError(
            f"unknown pull policy {value!r}: use always, never or if-not-present",
            param_hint="--pull",
        ) from None


def memory_size(value: str) -> int | str:
    """Plain numbers (and -1) as integers, sizes with a unit as written; the
    block validates both."""
    text = value.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def registry_block(reference: str) -> DockerRegistry:
    from launchbay.blocks.docker import DockerRegistry

    return DockerRegistry.load(reference.removeprefix("docker-registry/"))


CONVERSIONS: dict[str, Conversion] = {
    "pull": pull_policy,
    "mem_limit": memory_size,
    "memswap_limit": memory_size,
    "registry": registry_block,
    # The resource flags every container kind takes, as docker run spells them
    # (--gpus N|all and --shm-size SIZE are the fields' own values).
    "cpus": lambda cpus: FieldValues(cpus=cpus),
    "memory": lambda size: FieldValues(mem_limit=memory_size(size)),
    "shm_size": memory_size,
}


def docker_container(fields: dict[str, Any]) -> DockerContainer:
    from launchbay.infrastructure.container import DockerContainer

    return DockerContainer(**fields)
