"""The Kubernetes flags of ``run``/``preview``/``block save`` -> ``KubernetesJob``.

The table (``cli/flags.py``) says which field each flag sets (``cli/fields.py``); here is how the
values that need it are converted."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchbay.cli.fields import Conversion, FieldValues
from launchbay.cli.flags import FlagError

if TYPE_CHECKING:
    from launchbay.blocks.kubernetes import KubernetesClusterConfig
    from launchbay.infrastructure.kubernetes import KubernetesJob

# Memory as Kubernetes quantities, largest binary suffix first.
_BINARY_SUFFIXES = (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))


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


def cpus(value: float) -> FieldValues:
    """``--cpus`` as the CPU request and the limit (request = limit), a
    quantity: ``2``, ``0.5`` -> ``500m``."""
    if not math.isfinite(value) or value <= 0:
        raise FlagError(f"--cpus must be a number of CPUs above 0, not {value:g}", param_hint="--cpus")
    millicores = Decimal(repr(value)) * 1000
    if millicores != millicores.to_integral_value():
        raise FlagError(
            f"--cpus {value:g} is finer than Kubernetes allows: use a multiple of 0.001 CPU",
            param_hint="--cpus",
        )
    quantity = str(int(value)) if millicores % 1000 == 0 else f"{int(millicores)}m"
    return FieldValues(cpu_request=quantity, cpu_limit=quantity)


def memory(value: str) -> FieldValues:
    """``--memory`` (docker's units: ``512m`` is 512 MiB) as the memory request
    and the limit (request = limit), a binary quantity: ``512Mi``, ``2Gi``."""
    from launchbay._internal.docker.memory import parse_bytes

    try:
        size = parse_bytes(value)
    except ValueError as exc:
        raise FlagError(str(exc), param_hint="--memory") from None
    if size <= 0:
        raise FlagError(f"--memory must be above 0, not {value!r}", param_hint="--memory")
    quantity = next(
        (f"{size // factor}{suffix}" for suffix, factor in _BINARY_SUFFIXES if size % factor == 0), str(size)
    )
    return FieldValues(memory_request=quantity, memory_limit=quantity)


def gpus(value: str) -> int:
    """``--gpus N``: an ``nvidia.com/gpu`` limit (Kubernetes has no "all")."""
    text = value.strip()
    if not text.isdigit() or int(text) <= 0:
        raise FlagError(
            f"--gpus for Kubernetes takes a number of GPUs above 0, not {value!r}", param_hint="--gpus"
        )
    return int(text)


CONVERSIONS: dict[str, Conversion] = {
    "job_file": job_from_file,
    "customization": customizations,
    "cluster_config": cluster_config_block,
    "cpus": cpus,
    "memory": memory,
    "gpus": gpus,
}


def kubernetes_job(fields: dict[str, Any]) -> KubernetesJob:
    """The job the flags describe; it runs its command once unless the job file or
    a customization says otherwise (the block's ``backoff_limit``, as on the API)."""
    from launchbay.infrastructure.kubernetes import KubernetesJob

    return KubernetesJob(**fields)
