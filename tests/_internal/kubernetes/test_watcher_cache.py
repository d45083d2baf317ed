"""The shared watcher's cache and dispatch: events and re-lists reach the right
subscriptions, deletions missed during a gap are reported (pure logic; the
watch itself runs against the dev cluster in tests/infrastructure)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from launchbay._internal.kubernetes.watcher import NamespaceWatcher, Subscription, WatchExpired
from tests._internal.kubernetes.test_state import raw_job, raw_pod


def job(name: str = "j", uid: str = "u1", rv: str = "10", **kwargs: Any) -> dict[str, Any]:
    raw = raw_job(**kwargs)
    raw["metadata"] = {"name": name, "uid": uid, "resourceVersion": rv}
    return raw


def pod(name: str, job_uid: str = "u1", rv: str = "11", **kwargs: Any) -> dict[str, Any]:
    raw = raw_pod(name, **kwargs)
    raw["metadata"]["resourceVersion"] = rv
    raw["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = job_uid
    return raw


def subscribed(watcher: NamespaceWatcher, name: str = "j", uid: str = "u1") -> Subscription:
    subscription = Subscription(watcher, uid)
    watcher._subscriptions.setdefault(name, set()).add(subscription)
    return subscription


def run(test: Any) -> None:
    anyio.run(test, backend="asyncio")


def test_events_update_the_cache_and_the_subscription() -> None:
    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        sub = subscribed(watcher)
        jobs, pods = watcher._kinds["jobs"], watcher._kinds["pods"]
        assert watcher._apply_event(jobs, {"type": "ADDED", "object": job(rv="10")}) == "10"
        assert sub.job is not None and sub.version == 1
        watcher._apply_event(pods, {"type": "ADDED", "object": pod("j-1", phase="Running")})
        assert sub.pods["j-1"].phase == "Running"
        # Another job's events do not wake this subscription.
        watcher._apply_event(jobs, {"type": "ADDED", "object": job("other", "u9")})
        watcher._apply_event(
            pods,
            {
                "type": "ADDED",
                "object": {
                    **pod("other-1", job_uid="u9"),
                    "metadata": {**pod("other-1", job_uid="u9")["metadata"], "labels": {"job-name": "other"}},
                },
            },
        )
        assert sub.version == 2 and set(watcher.jobs) == {"j", "other"}
        # Bookmarks only move the resourceVersion.
        assert (
            watcher._apply_event(
                jobs, {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "99"}}}
            )
            == "99"
        )
        assert sub.version == 2
        # A deleted pod keeps its last state in the subscription.
        watcher._apply_event(
            pods,
            {
                "type": "DELETED",
                "object": pod("j-1", phase="Succeeded", container={"terminated": {"exitCode": 0}}),
            },
        )
        assert sub.pods["j-1"].deleted and "j-1" not in watcher.pods
        watcher._apply_event(jobs, {"type": "DELETED", "object": job()})
        assert sub.job_deleted and "j" not in watcher.jobs

    run(main)


def test_a_pod_or_job_of_a_same_named_earlier_job_is_ignored() -> None:
    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        sub = subscribed(watcher, uid="u2")
        watcher._apply_event(watcher._kinds["pods"], {"type": "ADDED", "object": pod("j-old", job_uid="u1")})
        watcher._apply_event(watcher._kinds["jobs"], {"type": "DELETED", "object": job(uid="u1")})
        assert sub.pods == {} and not sub.job_deleted

    run(main)


def test_error_events() -> None:
    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        with pytest.raises(WatchExpired):
            watcher._apply_event(
                watcher._kinds["jobs"],
                {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}},
            )
        from launchbay._internal.kubernetes.api import KubernetesApiError

        with pytest.raises(KubernetesApiError, match="403 Forbidden"):
            watcher._apply_event(
                watcher._kinds["jobs"],
                {"type": "ERROR", "object": {"code": 403, "reason": "Forbidden", "message": "no"}},
            )

    run(main)


def test_relist_reports_what_happened_during_a_gap() -> None:
    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        sub = subscribed(watcher)
        watcher._apply_event(watcher._kinds["jobs"], {"type": "ADDED", "object": job()})
        watcher._apply_event(watcher._kinds["pods"], {"type": "ADDED", "object": pod("j-1", phase="Running")})
        # During the gap the pod finished and was replaced, and the job completed.
        done = job(conditions=[{"type": "Complete", "status": "True"}])
        watcher._reconcile_jobs([done])
        watcher._reconcile_pods([pod("j-2", phase="Succeeded", created="2026-01-01T00:00:09Z")])
        assert sub.job is not None and sub.job.condition("Complete")
        assert sub.pods["j-1"].deleted and sub.pods["j-2"].phase == "Succeeded"
        # Then the job disappeared (TTL) during another gap: reported as deleted,
        # with its last state kept.
        watcher._reconcile_jobs([])
        assert sub.job_deleted and sub.job.condition("Complete")

    run(main)


def test_subscription_wait_returns_on_change_or_timeout() -> None:
    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        sub = subscribed(watcher)
        seen = sub.version
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(sub.wait, seen, None)
                await anyio.sleep(0)
                watcher._apply_event(watcher._kinds["jobs"], {"type": "ADDED", "object": job()})
        await sub.wait(sub.version, 0.01)  # nothing new: returns after the timeout
        await sub.wait(seen, None)  # already changed since `seen`: returns at once

    run(main)


def test_a_direct_read_fills_in_only_what_the_watch_has_not_said() -> None:
    async def main() -> None:
        from launchbay._internal.kubernetes.state import JobState

        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        missing = subscribed(watcher)
        missing.learn(None)
        assert missing.job_deleted
        reused = subscribed(watcher, name="k")
        reused.learn(JobState.from_raw(job("k", uid="someone-else")))
        assert reused.job_deleted  # the name now belongs to another job
        found = subscribed(watcher, name="f", uid="u5")
        found.learn(JobState.from_raw(job("f", uid="u5")))
        assert found.job is not None and not found.job_deleted
        watched = subscribed(watcher, name="w")
        watcher._apply_event(watcher._kinds["jobs"], {"type": "DELETED", "object": job("w")})
        watched.learn(JobState.from_raw(job("w")))  # older news than the watch's: ignored
        assert watched.job_deleted

    run(main)


def test_pod_events_are_kept_by_pod_and_forgotten_with_it() -> None:
    def event(name: str, pod_uid: str, reason: str, rv: str = "20") -> dict[str, Any]:
        return {
            "metadata": {"name": name, "resourceVersion": rv},
            "involvedObject": {"kind": "Pod", "uid": pod_uid},
            "reason": reason,
            "message": f'Pulling image "app:{rv}"',
            "lastTimestamp": "2026-01-01T00:00:02Z",
        }

    async def main() -> None:
        watcher = NamespaceWatcher(api=None, namespace="ns")  # type: ignore[arg-type]
        events, pods = watcher._events_kind, watcher._kinds["pods"]
        watcher._apply_event(pods, {"type": "ADDED", "object": pod("j-1")})
        watcher._apply_event(events, {"type": "ADDED", "object": event("e1", "uid-j-1", "Scheduled")})
        watcher._apply_event(events, {"type": "ADDED", "object": event("e2", "uid-j-1", "Pulling")})
        watcher._apply_event(events, {"type": "ADDED", "object": event("e3", "uid-other", "Pulling")})
        # An event updated in place (its count, its time) replaces the old one.
        watcher._apply_event(events, {"type": "MODIFIED", "object": event("e2", "uid-j-1", "Pulling", "21")})
        reasons = sorted(e.reason for e in watcher.events["uid-j-1"].values())
        assert reasons == ["Pulling", "Scheduled"] and watcher.events["uid-j-1"]["e2"].order == 21
        watcher._apply_event(events, {"type": "DELETED", "object": event("e1", "uid-j-1", "Scheduled")})
        assert list(watcher.events["uid-j-1"]) == ["e2"]
        # The pod gone, its events go too.
        watcher._apply_event(pods, {"type": "DELETED", "object": pod("j-1")})
        assert "uid-j-1" not in watcher.events and "uid-other" in watcher.events

    run(main)


class _BufferedWatch:
    """A watch response whose lines are all buffered already: reading them
    never waits (as aiohttp's, when a burst has arrived)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        import json

        self.lines = [json.dumps(event).encode() + b"\n" for event in events]
        self.content = self

    async def readline(self) -> bytes:
        return self.lines.pop(0) if self.lines else b""


class _BurstApi:
    def __init__(self, response: _BufferedWatch) -> None:
        self.response = response

    def stream(self, path: str, **_: Any) -> Any:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def opened() -> Any:
            yield self.response

        return opened()


def test_a_burst_of_events_lets_each_woken_run_go_first() -> None:
    """A hundred pods ending together arrive as one burst: the run woken by
    the first event runs before the watcher applies the next one."""

    async def main() -> None:
        burst = [
            {"type": "MODIFIED", "object": pod(f"{name}-1", job_uid=name, rv=str(20 + i), phase="Succeeded")}
            for i, name in enumerate(["a", "b", "c"])
        ]
        for event in burst:
            labels = event["object"]["metadata"]["labels"]
            labels["batch.kubernetes.io/job-name"] = labels["job-name"] = event["object"]["metadata"]["name"][
                0
            ]
        watcher = NamespaceWatcher(api=_BurstApi(_BufferedWatch(burst)), namespace="ns")  # type: ignore[arg-type]
        first = subscribed(watcher, "a", "a")
        applied_when_woken: list[int] = []

        async def run_of_a() -> None:
            await first.wait(first.version, None)
            applied_when_woken.append(len(watcher.pods))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_of_a)
            await anyio.sleep(0)  # it waits
            assert await watcher._watch(watcher._kinds["pods"], "19") == "22"
        assert applied_when_woken == [1]
        assert set(watcher.pods) == {"a-1", "b-1", "c-1"}

    run(main)
