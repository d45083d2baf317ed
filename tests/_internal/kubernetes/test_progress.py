"""What a pod that has not started waits for, in words (pure)."""

from __future__ import annotations

from typing import Any

from launchbay._internal.kubernetes.progress import PodEvent, events_from_list, latest, waiting_for
from launchbay._internal.kubernetes.state import PodState


def pod(*, scheduled: dict[str, Any] | None = None, waiting: dict[str, Any] | None = None) -> PodState:
    status: dict[str, Any] = {"phase": "Pending", "conditions": [scheduled] if scheduled else []}
    if waiting is not None:
        status["containerStatuses"] = [{"name": "launchbay-job", "state": {"waiting": waiting}}]
    return PodState.from_raw({"metadata": {"name": "p", "uid": "u"}, "spec": {}, "status": status})


SCHEDULED = {"type": "PodScheduled", "status": "True"}


def event(reason: str, message: str, when: str, version: str = "1") -> dict[str, Any]:
    return {
        "metadata": {"resourceVersion": version, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
    }


def test_not_created_or_not_scheduled() -> None:
    assert waiting_for(None) == "waiting for the job controller to create it"
    assert waiting_for(pod()) == "waiting to be scheduled"
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    }
    assert waiting_for(pod(scheduled=unschedulable)) == (
        "waiting to be scheduled (0/1 nodes are available: 1 node(s) didn't match Pod's node "
        "affinity/selector.)"
    )


def test_scheduled_the_kubelets_events_say_what_it_does() -> None:
    scheduled = pod(scheduled=SCHEDULED, waiting={"reason": "ContainerCreating"})
    assert waiting_for(scheduled) == "creating its container"  # no events to read
    events = events_from_list(
        {
            "items": [
                event("Scheduled", "Successfully assigned", "2026-01-01T00:00:01Z"),
                event("Pulling", 'Pulling image "registry.example/app:2"', "2026-01-01T00:00:02Z", "7"),
            ]
        }
    )
    assert waiting_for(scheduled, events) == "pulling image registry.example/app:2"
    pulled = [*events, PodEvent.from_raw(event("Pulled", "Successfully pulled", "2026-01-01T00:00:02Z", "9"))]
    assert waiting_for(scheduled, pulled) == "creating its container"
    created = [*pulled, PodEvent.from_raw(event("Created", "Created container", "2026-01-01T00:00:03Z", "3"))]
    assert waiting_for(scheduled, created) == "starting its container"
    mount = [
        PodEvent.from_raw(
            {**event("FailedMount", "secret not found", "2026-01-01T00:00:05Z"), "type": "Warning"}
        )
    ]
    assert (
        waiting_for(scheduled, mount)
        == "creating its container (last warning: FailedMount: secret not found)"
    )
    # The scheduler's new-style event (microseconds) can look newer than the
    # kubelet's Pulling (whole seconds) of the same second: the stage decides.
    scheduler = {
        "metadata": {"resourceVersion": "1"},
        "reason": "Scheduled",
        "eventTime": "2026-01-01T00:00:02.900000Z",
    }
    pulling = event("Pulling", 'Pulling image "app:1"', "2026-01-01T00:00:02Z", "2")
    assert waiting_for(scheduled, events_from_list({"items": [scheduler, pulling]})) == "pulling image app:1"
    # A waiting reason that says more than "not yet" is said as it is.
    backoff = pod(scheduled=SCHEDULED, waiting={"reason": "ImagePullBackOff", "message": "Back-off"})
    assert waiting_for(backoff, events) == "waiting: ImagePullBackOff: Back-off"


def test_latest_event_by_time_then_resource_version() -> None:
    first = PodEvent.from_raw(event("Pulling", "a", "2026-01-01T00:00:02Z", "10"))
    second = PodEvent.from_raw(event("Pulled", "b", "2026-01-01T00:00:02Z", "11"))
    later = PodEvent.from_raw(event("Created", "c", "2026-01-01T00:00:03Z", "2"))
    assert latest([second, first]) == second
    assert latest([later, second, first]) == later
    assert latest([]) is None
    # A new-style event has only eventTime (or a series).
    series = PodEvent.from_raw(
        {
            "metadata": {"resourceVersion": "1"},
            "reason": "Pulling",
            "eventTime": "2026-01-01T00:00:01.000001Z",
            "series": {"lastObservedTime": "2026-01-01T00:00:09.5Z"},
        }
    )
    assert series.when > later.when
