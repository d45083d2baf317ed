"""Infrastructure: the places a command can run (imported on first use)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Infrastructure": "launchbay.infrastructure.base",
    "InfrastructureResult": "launchbay.infrastructure.base",
    "Process": "launchbay.infrastructure.process",
    "ProcessResult": "launchbay.infrastructure.process",
    "DockerContainer": "launchbay.infrastructure.container",
    "DockerContainerResult": "launchbay.infrastructure.container",
    "KubernetesJob": "launchbay.infrastructure.kubernetes",
    "KubernetesJobResult": "launchbay.infrastructure.kubernetes",
}

__all__ = [
    "DockerContainer",
    "DockerContainerResult",
    "Infrastructure",
    "InfrastructureResult",
    "KubernetesJob",
    "KubernetesJobResult",
    "Process",
    "ProcessResult",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'launchbay.infrastructure' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *globals()})


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from launchbay.infrastructure.base import Infrastructure, InfrastructureResult
    from launchbay.infrastructure.container import DockerContainer, DockerContainerResult
    from launchbay.infrastructure.kubernetes import KubernetesJob, KubernetesJobResult
    from launchbay.infrastructure.process import Process, ProcessResult
