"""What the engine says of a container's life (``docker inspect``'s ``State``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from launchbay._internal.timestamps import rfc3339_nanoseconds


@dataclass(frozen=True)
class ContainerExit:
    status_code: int
    oom_killed: bool = False
    error: str = ""

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ContainerExit:
        code = state.get("ExitCode")
        return cls(
            status_code=int(code) if code is not None else -1,
            oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""),
        )


def is_finished(state: Mapping[str, Any]) -> bool:
    return state.get("Status") in ("exited", "dead") or (
        not state.get("Running")
        and not state.get("Restarting")
        and bool(state.get("FinishedAt"))
        and not str(state.get("FinishedAt", "")).startswith("0001-")
    )


def started_at(state: Mapping[str, Any]) -> int:
    """When the container's current life began, in engine time (ns since the
    epoch); 0 when unknown."""
    return rfc3339_nanoseconds(str(state.get("StartedAt") or ""))
