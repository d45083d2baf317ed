"""What a container may use (SPEC 15): CPUs, shared memory, GPUs, and as
whom it runs, checked and turned into what ``docker run`` sends for
``--cpus``, ``--shm-size``, ``--gpus`` and ``--user``."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Literal

from launchbay._internal.docker.memory import parse_bytes

ALL_GPUS: Literal["all"] = "all"
# ``Count`` of a device request for every GPU, as the engine reads it.
ALL_DEVICES = -1


def check_cpus(cpus: float) -> float:
    """A CPU limit: a finite number above 0 (``1.5``: one and a half CPUs)."""
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)):
        raise ValueError(f"cpus must be a number of CPUs such as 1.5, not {cpus!r}")
    # NanoCpus 0 would mean no limit at all: a value too small for it is refused too.
    if not math.isfinite(cpus) or cpus <= 0 or nano_cpus(cpus) < 1:
        raise ValueError(f"cpus must be a number of CPUs above 0 (such as 0.5 or 2), not {cpus!r}")
    return float(cpus)


def nano_cpus(cpus: float) -> int:
    """``HostConfig.NanoCpus``: billionths of a CPU, exact for a decimal as
    written (``0.1`` is 100000000, not 100000000.00000001 rounded)."""
    return int(Decimal(repr(float(cpus))) * 10**9)


def check_shm_size(shm_size: int | str) -> int | str:
    """A size of ``/dev/shm`` (bytes or ``64m``), above 0."""
    if parse_bytes(shm_size, what="shm size") <= 0:
        raise ValueError(f"Invalid shm size {shm_size!r}: it must be above 0 (for example '64m')")
    return shm_size


def shm_bytes(shm_size: int | str) -> int:
    """``HostConfig.ShmSize``: bytes."""
    return parse_bytes(shm_size, what="shm size")


def check_gpus(gpus: object) -> int | Literal["all"]:
    """A number of GPUs above 0, or ``"all"`` (also given as the text of a number)."""
    if isinstance(gpus, str):
        text = gpus.strip()
        if text.lower() == ALL_GPUS:
            return ALL_GPUS
        if text.isdigit():
            gpus = int(text)
    if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0:
        return gpus
    raise ValueError(f"gpus must be a number of GPUs above 0, or 'all', not {gpus!r}")


def gpu_request(gpus: int | Literal["all"]) -> dict[str, Any]:
    """``HostConfig.DeviceRequests[0]`` as ``docker run --gpus N|all`` sends it:
    any driver that offers the ``gpu`` capability (NVIDIA's, in practice)."""
    return {
        "Driver": "",
        "Count": ALL_DEVICES if gpus == ALL_GPUS else int(gpus),
        "DeviceIDs": None,
        "Capabilities": [["gpu"]],
        "Options": {},
    }


def check_user(user: str) -> str:
    """A user as ``docker run --user`` takes it: ``name``, ``uid``, ``uid:gid``..."""
    if not user.strip() or any(character.isspace() for character in user):
        raise ValueError(
            f"user must be a user name or id, optionally with a group ('1000', 'app', "
            f"'1000:1000'), not {user!r}"
        )
    return user
