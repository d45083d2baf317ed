"""One shared watch of a namespace's jobs and job pods, serving every run.

A ``NamespaceWatcher`` runs two list-then-watch loops on the event loop (one
for jobs, one for pods carrying the job controller's ``job-name`` label) and
keeps a small cache of both. Runs subscribe to a job by name and are woken when
that job or one of its pods changes; however many runs there are, the
namespace costs two open watches and no thread.

Pod events: a pod slow to start says what it waits for (``progress``), and
only the kubelet's events say it is pulling its image. A third loop watches
the namespace's pod events and serves every run: no request per progress
line. The first progress line starts it (runs whose pods start at once never
pay for it); it watches from then on (a one-item LIST gives the
resourceVersion: a busy namespace holds thousands of events, which are not
read). A pod that may have had events before (one seen before the events
watch began, or a LIST found) has them read once, by one LIST of them, if it
needs a progress line. Its failure (no right to list events) leaves the jobs
and pods alone.

The loops run until the connection closes (``connection``: some seconds
after its last run), so runs that follow one another share them too.

Resumption: each loop remembers the last resourceVersion it saw (objects and
bookmarks). A watch that ends (server timeout) or drops (connection lost, API
server restarted) is reopened from there, so no change is missed or seen
twice; when the server no longer has that version (410 Gone / Expired) the loop
lists again and reconciles the cache, reporting deletions it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from launchbay._internal import loggers
from launchbay._internal.kubernetes.api import (
    AuthSettling,
    KubeApi,
    KubernetesApiError,
    describe_error,
    is_transient,
)
from launchbay._internal.kubernetes.progress import PodEvent
from launchbay._internal.kubernetes.state import JobState, PodState
from launchbay._internal.retry import Backoff

logger = logging.getLogger(loggers.KUBERNETES)

# The server ends each watch after this long (with jitter, so many clients do
# not reconnect together); a read timeout a little longer catches a silently
# dead connection.
WATCH_SECONDS = 240
WATCH_JITTER = 0.2
WATCH_READ_TIMEOUT = WATCH_SECONDS * (1 + WATCH_JITTER) + 30
LIST_PAGE_SIZE = 500
FIRST_RETRY_SECONDS = 0.2
# A pod first seen this soon after the events watch began may have had events
# before it (see _events_may_predate).
EVENTS_LAG_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 5.0


class WatchExpired(Exception):
    """The resourceVersion to resume from is too old (410): list again."""


class Subscription:
    """One run's view of one job: its latest state and its pods' (deleted
    ones included, with their last state), and a way to wait for changes."""

    def __init__(self, watcher: NamespaceWatcher, uid: str) -> None:
        self.watcher = watcher
        self.uid = uid
        self.job: JobState | None = None
        self.job_deleted = False
        self.pods: dict[str, PodState] = {}
        self.version = 0
        self._event = anyio.Event()

    # --- fed by the watcher -----------------------------------------------------

    def _notify(self) -> None:
        self.version += 1
        self._event.set()
        self._event = anyio.Event()

    def _on_job(self, job: JobState) -> None:
        if job.uid != self.uid:  # the name now belongs to another job: ours is gone
            if self.job is not None and not self.job_deleted:
                self.job_deleted = True
                self._notify()
            return
        self.job = job
        self._notify()

    def _on_job_deleted(self, job: JobState) -> None:
        if job.uid != self.uid:
            return
        self.job = job
        self.job_deleted = True
        self._notify()

    def _on_pod(self, pod: PodState) -> None:
        if pod.job_uid is not None and pod.job_uid != self.uid:
            return
        self.pods[pod.name] = pod
        self._notify()

    def _on_pod_deleted(self, pod: PodState) -> None:
        if pod.job_uid is not None and pod.job_uid != self.uid:
            return
        known = self.pods.get(pod.name, pod)
        self.pods[pod.name] = known.as_deleted() if known.uid == pod.uid else pod.as_deleted()
        self._notify()

    def learn(self, job: JobState | None) -> None:
        """What a direct read of the job found (None: not found), for a job the
        watch has not shown; the watch's own news wins if it came meanwhile."""
        if self.job is not None or self.job_deleted:
            return
        if job is None or job.uid != self.uid:
            self.job_deleted = True
        else:
            self.job = job
        self._notify()

    async def pod_events(self, pod: PodState, wait: float) -> list[PodEvent]:
        """The events about the pod (see ``NamespaceWatcher.pod_events``)."""
        return await self.watcher.pod_events(pod, wait)

    def poke(self) -> None:
        """Wake the waiters (something outside the watch changed)."""
        self._notify()

    # --- read by the run -----------------------------------------------------------

    @property
    def failure(self) -> BaseException | None:
        """Why the watch cannot go on (e.g. permission denied), if it cannot."""
        return self.watcher.failure

    @property
    def synced(self) -> bool:
        return self.watcher.synced

    async def wait(self, seen_version: int, timeout: float | None) -> None:
        """Return when something changed since ``seen_version``, or after ``timeout``."""
        if self.version != seen_version or self.failure is not None:
            return
        event = self._event
        if timeout is None:
            await event.wait()
        else:
            with anyio.move_on_after(max(timeout, 0)):
                await event.wait()


@dataclass
class _Kind:
    """What differs between the job loop and the pod loop."""

    name: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    settling: AuthSettling = field(default_factory=AuthSettling)


class NamespaceWatcher:
    """Shared jobs-and-pods watch of one namespace on one cluster connection."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.jobs: dict[str, JobState] = {}
        self.pods: dict[str, PodState] = {}
        self.failure: BaseException | None = None
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: set[asyncio.Task[None]] = set()
        self._synced: dict[str, bool] = {}
        self._seen = 0
        self._kinds = {
            "jobs": _Kind("jobs", f"/apis/batch/v1/namespaces/{namespace}/jobs"),
            # Pods the job controller made carry its job-name label.
            "pods": _Kind("pods", f"/api/v1/namespaces/{namespace}/pods", [("labelSelector", "job-name")]),
        }
        # By pod UID, then event name.
        self._events_kind = _Kind(
            "events", f"/api/v1/namespaces/{namespace}/events", [("fieldSelector", "involvedObject.kind=Pod")]
        )
        self.events: dict[str, dict[str, PodEvent]] = {}
        self.events_failure: BaseException | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._events_ready: anyio.Event | None = None
        self._events_since: float | None = None  # when the events watch began (monotonic)
        # Pods found by a LIST, or seen before the events watch began, may have
        # had events it did not see: those are read once, when needed.
        self._listed: set[str] = set()
        self._read_back: set[str] = set()

    @property
    def synced(self) -> bool:
        return all(self._synced.get(kind) for kind in self._kinds)

    # --- subscriptions ---------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, name: str, uid: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(self, uid)
        self._subscriptions.setdefault(name, set()).add(subscription)
        self._start()
        job = self.jobs.get(name)
        if job is not None:
            subscription._on_job(job)
        for pod in self.pods.values():
            if pod.job_name == name:
                subscription._on_pod(pod)
        try:
            yield subscription
        finally:
            # The loops go on without subscriptions, until ``aclose``.
            subscribers = self._subscriptions.get(name)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[name]

    async def pod_events(self, pod: PodState, wait: float) -> list[PodEvent]:
        """The events about ``pod`` from the shared events watch (waiting up
        to ``wait`` s for it to begin); none when they cannot be read (e.g. no
        right to list events)."""
        ready = self._start_events()
        if not ready.is_set():
            with anyio.move_on_after(wait):
                await ready.wait()
        if not ready.is_set() or self.events_failure is not None:
            return []
        if pod.uid in self._listed and pod.uid not in self._read_back:
            self._read_back.add(pod.uid)
            await self._read_back_events(pod.uid)
        return list(self.events.get(pod.uid, {}).values())

    async def _read_back_events(self, pod_uid: str) -> None:
        """The events about a pod from before the events watch began."""
        try:
            listing = await self.api.request(
                "GET",
                self._events_kind.path,
                what="LIST pod events",
                query=[("fieldSelector", f"involvedObject.uid={pod_uid}")],
            )
        except Exception as exc:
            logger.debug("Could not read the events of pod %s: %s", pod_uid, describe_error(exc))
            return
        for item in listing.get("items") or []:
            if isinstance(item, dict):
                self._apply_pod_event("ADDED", item)

    def _start_events(self) -> anyio.Event:
        """Start the events loop unless it runs (or has given up); its ready event."""
        ready = self._events_ready
        if ready is None or self._events_task is None or (self._events_task.done() and not ready.is_set()):
            self.events, self._events_ready, self._events_since = {}, (ready := anyio.Event()), None
            self._events_task = asyncio.get_running_loop().create_task(self._loop(self._events_kind))
        return ready

    def _subscribers(self, name: str | None) -> list[Subscription]:
        """The subscriptions to the job ``name`` (a copy: one may end meanwhile)."""
        return list(self._subscriptions.get(name or "", ()))

    def _notify_all(self) -> None:
        for subscribers in list(self._subscriptions.values()):
            for subscription in list(subscribers):
                subscription._notify()

    # --- lifecycle -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._tasks and not any(task.done() for task in self._tasks):
            return
        self._stop()  # a loop that gave up (failure) is started afresh
        self.failure = None
        self.jobs, self.pods, self._synced = {}, {}, {}
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._loop(kind)) for kind in self._kinds.values()]

    def _stop(self) -> None:
        """Cancel the loops; they are awaited by ``aclose`` (cancellation is
        delivered at their next await, so they change nothing after this)."""
        for task in [*self._tasks, *([self._events_task] if self._events_task else [])]:
            task.cancel()
            self._stopping.add(task)
        self._tasks, self._events_task, self.events_failure = [], None, None
        self.events, self._read_back, self._listed = {}, set(), set()
        self._events_since = None

    async def aclose(self) -> None:
        self._stop()
        stopping, self._stopping = self._stopping, set()
        for task in stopping:
            try:
                await task
            except BaseException:
                pass

    # --- the list-then-watch loop -------------------------------------------------------------

    async def _loop(self, kind: _Kind) -> None:
        resource_version: str | None = None
        backoff = Backoff(FIRST_RETRY_SECONDS, MAX_BACKOFF_SECONDS)
        settling = kind.settling = AuthSettling()
        while True:
            try:
                if resource_version is None:
                    resource_version = await self._relist(kind)
                    settling.success()
                    if kind is self._events_kind:
                        self._mark_events_ready()
                    else:
                        self._synced[kind.name] = True
                        self._notify_all()
                resource_version = await self._watch(kind, resource_version)
                backoff.reset()
            except WatchExpired:
                logger.debug("Watch of %s in %r expired; listing again.", kind.name, self.namespace)
                resource_version = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, KubernetesApiError) and exc.status == 410:
                    resource_version = None
                    continue
                settling_server = settling.tolerates(exc)  # a restarted API server, not a refusal
                if not (is_transient(exc) or settling_server or isinstance(exc, ValueError)):
                    # Permission denied, namespace gone: nothing a retry fixes.
                    if kind is self._events_kind:  # the runs go on without events
                        logger.debug(
                            "Cannot watch the pod events in %r: %s", self.namespace, describe_error(exc)
                        )
                        self.events_failure = exc
                        self._mark_events_ready()
                        return
                    self.failure = exc
                    self._notify_all()
                    return
                # Jitter: the watches of many processes do not come back together.
                delay = backoff.next() * (0.5 + random.random())
                logger.debug(
                    "Watch of %s in %r interrupted (%s); resuming in %.1f s.",
                    kind.name,
                    self.namespace,
                    describe_error(exc),
                    delay,
                )
                await asyncio.sleep(delay)

    async def _events_resource_version(self) -> str:
        """Where the events watch begins: now (one item listed, for the
        resourceVersion). Events missed during a gap are not read back: they
        only make progress lines more precise."""
        page = await self.api.request(
            "GET",
            self._events_kind.path,
            what="LIST events",
            query=[*self._events_kind.query, ("limit", "1")],
        )
        return str((page.get("metadata") or {}).get("resourceVersion") or "")

    def _mark_events_ready(self) -> None:
        if self._events_ready is not None:
            if self._events_since is None:
                self._events_since = time.monotonic()
            self._events_ready.set()

    def _events_may_predate(self) -> bool:
        """Whether a pod first seen now may have had events the events watch
        missed: it is not running, or began a moment ago (a pod created just
        before its LIST is seen a little later)."""
        since = self._events_since
        return since is None or time.monotonic() - since < EVENTS_LAG_SECONDS

    async def _relist(self, kind: _Kind) -> str:
        """List everything (paginated, one consistent snapshot), reconcile the
        cache with it, and return the snapshot's resourceVersion."""
        if kind is self._events_kind:
            return await self._events_resource_version()
        items: list[dict[str, Any]] = []
        token: str | None = None
        resource_version = ""
        while True:
            query = [*kind.query, ("limit", str(LIST_PAGE_SIZE))]
            if token:
                query.append(("continue", token))
            try:
                page = await self.api.request("GET", kind.path, what=f"LIST {kind.name}", query=query)
            except KubernetesApiError as exc:
                if exc.status == 410 and token:  # the continue token expired: start over
                    items, token = [], None
                    continue
                raise
            metadata = page.get("metadata") or {}
            resource_version = resource_version or str(metadata.get("resourceVersion") or "")
            items.extend(item for item in page.get("items") or [] if isinstance(item, dict))
            token = metadata.get("continue") or None
            if not token:
                break
        if kind.name == "jobs":
            self._reconcile_jobs(items)
        else:
            self._reconcile_pods(items)
        return resource_version

    async def _watch(self, kind: _Kind, resource_version: str) -> str:
        """Watch from ``resource_version`` until the server ends the watch;
        returns the last version seen. Raises ``WatchExpired`` on 410."""
        query = [
            *kind.query,
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(int(WATCH_SECONDS * (1 + WATCH_JITTER * (2 * random.random() - 1))))),
        ]
        try:
            async with self.api.stream(
                kind.path, what=f"WATCH {kind.name}", query=query, read_timeout=WATCH_READ_TIMEOUT
            ) as response:
                kind.settling.success()
                while True:
                    line = await response.content.readline()
                    if not line:
                        return resource_version  # the server ended the watch
                    if not line.strip():
                        continue
                    resource_version = self._apply_event(kind, json.loads(line)) or resource_version
                    # A burst (a hundred pods ending together) is read without
                    # waiting: the runs this event woke go first, not after
                    # the whole burst.
                    await asyncio.sleep(0)
        except KubernetesApiError as exc:
            if exc.status == 410:
                raise WatchExpired from None
            raise

    def _apply_event(self, kind: _Kind, event: dict[str, Any]) -> str | None:
        kind_of_event = event.get("type")
        raw = event.get("object") or {}
        if kind_of_event == "ERROR":
            status = int(raw.get("code") or 0)
            if status == 410:
                raise WatchExpired
            raise KubernetesApiError(status, str(raw.get("reason") or "Error"), str(raw.get("message") or ""))
        version = (raw.get("metadata") or {}).get("resourceVersion")
        if kind_of_event == "BOOKMARK":
            return version
        if kind.name == "events":
            self._apply_pod_event(kind_of_event, raw)
        elif kind.name == "jobs":
            job = JobState.from_raw(raw)
            if kind_of_event == "DELETED":
                self.jobs.pop(job.name, None)
                for subscription in self._subscribers(job.name):
                    subscription._on_job_deleted(job)
            else:
                self.jobs[job.name] = job
                for subscription in self._subscribers(job.name):
                    subscription._on_job(job)
        else:
            pod = self._pod_from_raw(raw)
            if kind_of_event == "DELETED":
                self.pods.pop(pod.name, None)
                self.events.pop(pod.uid, None)
                self._listed.discard(pod.uid)
                self._read_back.discard(pod.uid)
                for subscription in self._subscribers(pod.job_name):
                    subscription._on_pod_deleted(pod)
            else:
                known = self.pods.get(pod.name)
                if (known is None or known.uid != pod.uid) and self._events_may_predate():
                    self._listed.add(pod.uid)
                self.pods[pod.name] = pod
                for subscription in self._subscribers(pod.job_name):
                    subscription._on_pod(pod)
        return version

    def _apply_pod_event(self, kind_of_event: str | None, raw: dict[str, Any]) -> None:
        """Keep (or forget) one event about a pod."""
        pod_uid = str((raw.get("involvedObject") or {}).get("uid") or "")
        name = str((raw.get("metadata") or {}).get("name") or "")
        if not pod_uid or not name:
            return
        if kind_of_event == "DELETED":
            known = self.events.get(pod_uid)
            if known is not None:
                known.pop(name, None)
                if not known:
                    del self.events[pod_uid]
        else:
            self.events.setdefault(pod_uid, {})[name] = PodEvent.from_raw(raw)

    def _pod_from_raw(self, raw: dict[str, Any]) -> PodState:
        name = (raw.get("metadata") or {}).get("name", "")
        known = self.pods.get(name)
        if known is not None:
            seen = known.seen
        else:
            self._seen += 1
            seen = self._seen
        return PodState.from_raw(raw, seen)

    # --- reconciliation after a (re)list ---------------------------------------------------

    def _reconcile_jobs(self, items: list[dict[str, Any]]) -> None:
        fresh = {job.name: job for job in map(JobState.from_raw, items)}
        for name, old in self.jobs.items():
            if name not in fresh or fresh[name].uid != old.uid:
                for subscription in self._subscribers(name):
                    subscription._on_job_deleted(old)
        self.jobs = fresh
        for name in list(self._subscriptions):
            job = fresh.get(name)
            if job is not None:
                for subscription in self._subscribers(name):
                    subscription._on_job(job)

    def _reconcile_pods(self, items: list[dict[str, Any]]) -> None:
        fresh: dict[str, PodState] = {}
        for raw in items:
            pod = self._pod_from_raw(raw)
            fresh[pod.name] = pod
            known = self.pods.get(pod.name)
            if known is None or known.uid != pod.uid:
                self._listed.add(pod.uid)
        for name, old in self.pods.items():
            if name not in fresh or fresh[name].uid != old.uid:
                for subscription in self._subscribers(old.job_name):
                    subscription._on_pod_deleted(old)
        self.pods = fresh
        for pod in fresh.values():
            if pod.job_name in self._subscriptions:
                for subscription in self._subscribers(pod.job_name):
                    subscription._on_pod(pod)
