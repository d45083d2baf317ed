"""A restarted API server refuses (401/403) until its caches are synced: a
watch or a log stream that worked before retries through that, one that
never worked fails at once (against a real local HTTP server)."""

from __future__ import annotations

import io
import json
import time
from collections import Counter

import anyio
import pytest
from aiohttp import web

from launchbay._internal.kubernetes import watcher as watcher_module
from launchbay._internal.kubernetes.api import AuthSettling, KubernetesApiError
from launchbay._internal.kubernetes.logs import LogFollower
from launchbay._internal.kubernetes.state import PodState
from launchbay._internal.kubernetes.watcher import NamespaceWatcher
from launchbay._internal.output import Sink
from tests._internal.kubernetes.test_api import run, serving
from tests._internal.kubernetes.test_state import raw_pod
from tests._internal.kubernetes.test_watcher_cache import job

FORBIDDEN = {"kind": "Status", "reason": "Forbidden", "message": "jobs is forbidden"}


def test_auth_settling_tolerates_refusals_only_after_success_and_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = KubernetesApiError(403, "Forbidden", "")
    settling = AuthSettling(settle_seconds=10)
    assert not settling.tolerates(refused)  # never worked: a real refusal
    settling.success()
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    assert settling.tolerates(refused) and settling.tolerates(KubernetesApiError(401, "Unauthorized", ""))
    now[0] += 9.9
    assert settling.tolerates(refused)
    now[0] += 0.2
    assert not settling.tolerates(refused)  # refused for too long: it is one
    settling.success()
    assert settling.tolerates(refused)  # a new episode
    assert not settling.tolerates(KubernetesApiError(404, "NotFound", ""))
    assert not settling.tolerates(ConnectionError())


def test_a_watch_that_worked_survives_a_restarted_servers_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher_module, "FIRST_RETRY_SECONDS", 0.01)
    calls: Counter[str] = Counter()

    async def handler(request: web.Request) -> web.StreamResponse:
        kind = "watch" if request.query.get("watch") else "list"
        calls[kind] += 1
        if kind == "list":
            return web.json_response({"metadata": {"resourceVersion": "5"}, "items": []})
        if calls["watch"] == 1:
            return web.Response(text="")  # the server went away: the watch ends
        if calls["watch"] <= 3:
            return web.json_response(FORBIDDEN, status=403)  # the new server's caches are not synced
        event = {"type": "ADDED", "object": job("j", rv="6")}
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write((json.dumps(event) + "\n").encode())
        return response

    async def main() -> None:
        async with serving(handler) as api:
            watcher = NamespaceWatcher(api, "ns")
            kind = watcher._kinds["jobs"]
            watcher._kinds = {"jobs": kind}
            watcher._start()
            try:
                for _ in range(500):
                    if "j" in watcher.jobs or watcher.failure is not None:
                        break
                    await anyio.sleep(0.01)
            finally:
                await watcher.aclose()
            assert watcher.failure is None and "j" in watcher.jobs
            assert calls["watch"] >= 4

    run(main)


def test_a_watch_refused_from_the_start_fails_at_once() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(FORBIDDEN, status=403)

    async def main() -> None:
        async with serving(handler) as api:
            watcher = NamespaceWatcher(api, "ns")
            watcher._start()
            try:
                for _ in range(500):
                    if watcher.failure is not None:
                        break
                    await anyio.sleep(0.01)
            finally:
                await watcher.aclose()
            assert isinstance(watcher.failure, KubernetesApiError) and watcher.failure.status == 403

    run(main)


def test_a_log_stream_that_worked_survives_refusals_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from launchbay._internal.kubernetes import logs

    monkeypatch.setattr(logs, "FIRST_RETRY_SECONDS", 0.01)
    calls: list[str | None] = []
    done = [False]

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request.query.get("sinceTime"))
        if len(calls) == 1:  # the first line, then the server goes away
            return web.Response(text="2026-01-01T00:00:01.5Z one\n")
        if len(calls) <= 3:
            return web.json_response(FORBIDDEN, status=403)
        done[0] = True
        return web.Response(text="2026-01-01T00:00:01.5Z one\n2026-01-01T00:00:02Z two\n")

    out = io.StringIO()

    async def main() -> None:
        async with serving(handler) as api:
            follower = LogFollower(
                api, "ns", "p", "c", Sink(out), container_done=lambda: done[0], lost=lambda: False
            )
            await follower.follow()

    run(main)
    assert out.getvalue() == "one\ntwo\n"  # each line once
    assert calls[1:] == ["2026-01-01T00:00:01.5Z"] * 3


def test_pod_events_refused_leave_the_runs_alone() -> None:
    paths: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        paths.append(request.path)
        return web.json_response(FORBIDDEN, status=403)

    async def main() -> None:
        async with serving(handler) as api:
            watcher = NamespaceWatcher(api, "ns")
            try:
                # No right to list events: no events, at once, and not asked again.
                pod = PodState.from_raw(raw_pod())
                assert await watcher.pod_events(pod, wait=30) == []
                assert await watcher.pod_events(pod, wait=30) == []
                assert isinstance(watcher.events_failure, KubernetesApiError) and watcher.failure is None
            finally:
                await watcher.aclose()
            assert paths == ["/api/v1/namespaces/ns/events"]

    run(main)


def test_the_events_watch_opens_with_the_first_progress_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs whose pods start at once never open the events watch; the first
    progress line opens it, and the pods seen before it have their events read
    once (one LIST each), those seen well after it none."""
    requests: list[tuple[str, str]] = []
    pulling = {
        "metadata": {"name": "e1", "resourceVersion": "8"},
        "involvedObject": {"kind": "Pod", "uid": "uid-j-abc"},
        "reason": "Pulling",
        "message": 'Pulling image "app:1"',
        "lastTimestamp": "2026-01-01T00:00:02Z",
    }

    async def handler(request: web.Request) -> web.StreamResponse:
        watch = bool(request.query.get("watch"))
        kind = request.path.rsplit("/", 1)[-1]
        requests.append((("WATCH " if watch else "LIST ") + kind, request.query.get("fieldSelector", "")))
        if not watch:
            items = (
                [pulling] if "involvedObject.uid=uid-j-abc" in request.query.get("fieldSelector", "") else []
            )
            return web.json_response({"metadata": {"resourceVersion": "7"}, "items": items})
        response = web.StreamResponse()
        await response.prepare(request)
        if kind == "pods":  # one pod, seen by the watch (not a LIST)
            added = {
                "type": "ADDED",
                "object": {**raw_pod(), "metadata": {**raw_pod()["metadata"], "resourceVersion": "9"}},
            }
            await response.write(json.dumps(added).encode() + b"\n")
        await anyio.sleep(5)  # open for the test's length (the server's close waits for it)
        return response

    async def main() -> None:
        async with serving(handler) as api:
            watcher = NamespaceWatcher(api, "ns")
            try:
                watcher._start()
                with anyio.fail_after(10):
                    while "j-abc" not in watcher.pods:
                        await anyio.sleep(0.01)
                assert not [r for r in requests if r[0].endswith("events")]  # nothing asked for them yet
                first = watcher.pods["j-abc"]
                assert [e.reason for e in await watcher.pod_events(first, wait=10)] == ["Pulling"]
                with anyio.fail_after(10):  # the watch follows its LIST in its own task
                    while ("WATCH events", "involvedObject.kind=Pod") not in requests:
                        await anyio.sleep(0.01)
                assert requests.count(("LIST events", "involvedObject.kind=Pod")) == 1
                assert requests.count(("WATCH events", "involvedObject.kind=Pod")) == 1
                assert requests.count(("LIST events", "involvedObject.uid=uid-j-abc")) == 1
                await watcher.pod_events(first, wait=10)  # read once, not again
                assert requests.count(("LIST events", "involvedObject.uid=uid-j-abc")) == 1
                # A pod first seen once the events watch runs: its events come by the watch.
                monkeypatch.setattr(watcher_module, "EVENTS_LAG_SECONDS", 0.0)
                later = raw_pod("j-later")
                watcher._apply_event(watcher._kinds["pods"], {"type": "ADDED", "object": later})
                assert await watcher.pod_events(watcher.pods["j-later"], wait=10) == []
                assert not [r for r in requests if "uid-j-later" in r[1]]
            finally:
                await watcher.aclose()

    run(main)
