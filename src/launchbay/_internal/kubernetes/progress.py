"""What a pod that has not started yet is waiting for, in words: being
scheduled, its image being pulled, its container being created. The pod's
status says whether it is scheduled; only the kubelet's events say whether
it is pulling (the shared watcher watches them once a pod is slow to start).
Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from launchbay._internal.kubernetes.state import PodState
from launchbay._internal.timestamps import parse_rfc3339

# Waiting reasons that only say "not yet": the events say more.
_NOT_YET = frozenset({None, "ContainerCreating", "PodInitializing"})
_IMAGE_IN_MESSAGE = re.compile(r'image "([^"]+)"')


@dataclass(frozen=True)
class PodEvent:
    """One event about a pod: what happened, and when it last did."""

    reason: str
    message: str
    when: tuple[int, int]
    order: int  # resourceVersion: the tie-breaker within one instant
    warning: bool = False  # type Warning (FailedMount, FailedCreatePodSandBox, ...)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> PodEvent:
        metadata = raw.get("metadata") or {}
        series = raw.get("series") or {}
        stamp = (
            series.get("lastObservedTime")
            or raw.get("lastTimestamp")
            or raw.get("eventTime")
            or raw.get("firstTimestamp")
            or metadata.get("creationTimestamp")
        )
        try:
            when = parse_rfc3339(str(stamp)) if stamp else (0, 0)
        except ValueError:
            when = (0, 0)
        version = str(metadata.get("resourceVersion") or "")
        return cls(
            reason=str(raw.get("reason") or ""),
            message=str(raw.get("message") or ""),
            when=when,
            order=int(version) if version.isdigit() else 0,
            warning=raw.get("type") == "Warning",
        )


def events_from_list(listing: dict[str, Any]) -> list[PodEvent]:
    return [PodEvent.from_raw(item) for item in listing.get("items") or [] if isinstance(item, dict)]


def latest(events: Iterable[PodEvent]) -> PodEvent | None:
    return max(events, key=lambda event: (event.when, event.order), default=None)


def waiting_for(pod: PodState | None, events: Iterable[PodEvent] = ()) -> str:
    """Why ``pod`` (None: not created yet) has not started, for a progress line."""
    if pod is None:
        return "waiting for the job controller to create it"
    scheduled = pod.condition("PodScheduled")
    if scheduled is None or scheduled.status != "True":
        if scheduled is not None and scheduled.message:
            return f"waiting to be scheduled ({scheduled.message})"
        return "waiting to be scheduled"
    for container in (*pod.init_containers, *pod.containers):
        if container.state == "waiting" and container.reason not in _NOT_YET:
            detail = f": {container.message}" if container.message else ""
            return f"waiting: {container.reason}{detail}"
    return _kubelet_stage(list(events))


# The kubelet's events about a pod that starts, in the order they come. Event
# times cannot order them: old-style events have whole seconds
# (lastTimestamp), new-style ones microseconds (eventTime).
_STAGES = {"Scheduled": 0, "Pulling": 1, "Pulled": 2, "Created": 3, "Started": 4}


def _kubelet_stage(events: list[PodEvent]) -> str:
    stages = [event for event in events if event.reason in _STAGES]
    stage = max(stages, key=lambda event: (_STAGES[event.reason], event.when, event.order), default=None)
    reason = stage.reason if stage is not None else ""
    if stage is not None and reason == "Pulling":
        found = _IMAGE_IN_MESSAGE.search(stage.message)
        return f"pulling image {found[1]}" if found else f"pulling its image ({stage.message})"
    if reason in ("Created", "Started"):
        return "starting its container"
    warning = latest(event for event in events if event.warning)
    if warning is not None:
        return f"creating its container (last warning: {warning.reason}: {warning.message})"
    return "creating its container"
