"""launchbay: run a command on a local process, in a Docker container, or as a
Kubernetes Job through one API.

Names are imported on first use so that ``import launchbay`` stays light: pydantic
loads with the first block, docker and kubernetes with the first container or job.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Process": "launchbay.infrastructure.process",
    "ProcessResult": "launchbay.infrastructure.process",
    "DockerContainer": "launchbay.infrastructure.container",
    "DockerContainerResult": "launchbay.infrastructure.container",
    "ImagePullPolicy": "launchbay.infrastructure.container",
    "DockerRegistry": "launchbay.blocks.docker",
    "KubernetesJob": "launchbay.infrastructure.kubernetes",
    "KubernetesJobResult": "launchbay.infrastructure.kubernetes",
    "KubernetesImagePullPolicy": "launchbay.infrastructure.kubernetes",
    "KubernetesClusterConfig": "launchbay.blocks.kubernetes",
    "Infrastructure": "launchbay.infrastructure.base",
    "InfrastructureResult": "launchbay.infrastructure.base",
    "ExitReason": "launchbay._internal.exits",
    "Block": "launchbay.blocks.core",
    "InfrastructureNotFound": "launchbay.exceptions",
    "InfrastructureNotAvailable": "launchbay.exceptions",
    "FlowRun": "launchbay.models",
    "Deployment": "launchbay.models",
    "Flow": "launchbay.models",
    "get_current_settings": "launchbay.settings",
    "raise_open_file_limit": "launchbay._internal.limits",
}

__all__ = [
    "Block",
    "Deployment",
    "DockerContainer",
    "DockerContainerResult",
    "DockerRegistry",
    "ExitReason",
    "Flow",
    "FlowRun",
    "ImagePullPolicy",
    "Infrastructure",
    "InfrastructureNotAvailable",
    "InfrastructureNotFound",
    "InfrastructureResult",
    "KubernetesClusterConfig",
    "KubernetesImagePullPolicy",
    "KubernetesJob",
    "KubernetesJobResult",
    "Process",
    "ProcessResult",
    "__version__",
    "get_current_settings",
    "raise_open_file_limit",
]


# Submodules loaded on first attribute access (``launchbay.runs.list()``).
_SUBMODULES = frozenset({"runs"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"launchbay.{name}")
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'launchbay' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from launchbay._internal.exits import ExitReason
    from launchbay._internal.limits import raise_open_file_limit
    from launchbay.blocks.core import Block
    from launchbay.blocks.docker import DockerRegistry
    from launchbay.blocks.kubernetes import KubernetesClusterConfig
    from launchbay.exceptions import InfrastructureNotAvailable, InfrastructureNotFound
    from launchbay.infrastructure.base import Infrastructure, InfrastructureResult
    from launchbay.infrastructure.container import (
        DockerContainer,
        DockerContainerResult,
        ImagePullPolicy,
    )
    from launchbay.infrastructure.kubernetes import (
        KubernetesImagePullPolicy,
        KubernetesJob,
        KubernetesJobResult,
    )
    from launchbay.infrastructure.process import Process, ProcessResult
    from launchbay.models import Deployment, Flow, FlowRun
    from launchbay.settings import get_current_settings
