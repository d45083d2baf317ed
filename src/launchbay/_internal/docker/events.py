"""Knowing when containers end: one Docker events stream per engine per process.

docker-py is blocking, so one background thread per engine reads the engine's
``die``/``oom``/``destroy`` events and hands them to the subscriptions of the
containers being waited on; each waiting task is woken on its own event loop.
Thousands of runs cost one thread and one connection, not one each.

The stream survives engine restarts and dropped connections: it reconnects
with ``since=`` (the time of the last event seen) so buffered events are
replayed, and every subscription is told to re-inspect its container, which
covers what the engine no longer remembers (a restarted engine forgets its
events).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from launchbay._internal import loggers
from launchbay._internal.docker.connection import DockerHost, new_client
from launchbay._internal.docker.state import ContainerExit, is_finished
from launchbay._internal.retry import Backoff
from launchbay._internal.wakeup import Waker
from launchbay.exceptions import InfrastructureError

EVENT_FILTERS = {"type": ["container"], "event": ["die", "oom", "destroy"]}
# Keep the stream open this long after the last subscription ends, so runs made
# one after another share it.
LINGER_SECONDS = 10.0
_RETRY_FIRST_SECONDS = 0.05
_RETRY_MAX_SECONDS = 2.0
# After a reconnection finds the container gone, how long a replayed ``die``
# event may take to arrive.
_REPLAY_GRACE_SECONDS = 2.0
# Connections ask for events from this far back (at least), so nothing between
# connecting and the engine's subscription is missed; clocks of client and
# engine may also differ a little. Replayed events of other containers are ignored.
_SINCE_MARGIN_SECONDS = 60

logger = logging.getLogger(loggers.DOCKER)


class Subscription:
    """What the watcher has learnt about one container; created in the task
    that waits (its waker wakes that task's event loop)."""

    def __init__(self, watcher: EventWatcher, container_id: str) -> None:
        self.watcher = watcher
        self.container_id = container_id
        self.waker = Waker()
        self.exit: ContainerExit | None = None
        self.oom_killed = False
        self.destroyed = False
        self._exit_time = 0  # engine time (ns) of the events behind exit/oom_killed
        self._oom_time = 0

    def forget_before(self, time_nano: int) -> None:
        """Drop a replayed exit or OOM older than ``time_nano`` (engine time):
        it belongs to an earlier life of a restarted container."""
        if self.exit is not None and self._exit_time < time_nano:
            self.exit = None
        if self.oom_killed and self._oom_time < time_nano:
            self.oom_killed = False

    def close(self) -> None:
        self.watcher.unsubscribe(self)

    async def wait_live(self, timeout: float = 60.0) -> int:
        """Wait until the events stream is connected (so no event of this
        container can be missed from now on); returns the connection number."""
        with anyio.move_on_after(timeout):
            while True:
                self.waker.clear()
                if self.watcher.live:
                    return self.watcher.connections
                await self.waker.wait()
        raise InfrastructureError(
            f"Could not follow the events of Docker at {self.watcher.host.url}: "
            f"{self.watcher.last_error or 'no answer'}."
        )

    async def wait_for_exit(
        self,
        connection: int,
        inspect: Callable[[], Awaitable[Mapping[str, Any] | None]],
    ) -> ContainerExit | None:
        """Wait for the container to end. ``connection`` is the stream
        connection that was live when the container was known to run; after
        any later (re)connection the container is inspected, since events may
        have been missed. None: the container was removed before its exit was
        seen."""
        checked = connection
        while True:
            self.waker.clear()
            if self.exit is not None:
                return self.exit
            if self.destroyed:
                return None
            current = self.watcher.connections
            if current != checked and self.watcher.live:
                checked = current
                try:
                    state = await inspect()
                except Exception as exc:  # the engine went away again
                    logger.debug("Re-inspecting %s failed: %s", self.container_id[:12], exc)
                    continue
                if state is None:  # removed: maybe its ``die`` is being replayed
                    await self.waker.wait(_REPLAY_GRACE_SECONDS)
                    return self.exit
                if is_finished(state):
                    return ContainerExit.from_state(state)
                continue
            await self.waker.wait()

    async def wait_destroyed(self, timeout: float) -> bool:
        """Wait for the container's removal (auto-remove happens just after
        its exit); False if it is still there after ``timeout``."""
        with anyio.move_on_after(timeout):
            while True:
                self.waker.clear()
                if self.destroyed:
                    return True
                await self.waker.wait()
        return self.destroyed


class EventWatcher:
    """The events stream of one engine, read by one daemon thread."""

    def __init__(self, host: DockerHost) -> None:
        self.host = host
        self.live = False
        self.connections = 0  # successful connections so far
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._subscriptions: dict[str, list[Subscription]] = {}
        self._count = 0
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._stopping = False
        self._idle_timer: threading.Timer | None = None
        self._since: str | None = None

    # --- subscriptions (called from event loops) ---------------------------------

    def subscribe(self, container_id: str) -> Subscription:
        subscription = Subscription(self, container_id)
        with self._lock:
            self._subscriptions.setdefault(container_id, []).append(subscription)
            self._count += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            self._stopping = False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"launchbay-docker-events {self.host.url}", daemon=True
                )
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subscriptions = self._subscriptions.get(subscription.container_id, [])
            if subscription not in subscriptions:
                return
            subscriptions.remove(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.container_id]
            self._count -= 1
            if self._count == 0 and self._thread is not None:
                self._idle_timer = threading.Timer(LINGER_SECONDS, self._stop_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._count:
                return
            self._stopping = True
            stream = self._stream
        if stream is not None:
            stream.close()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop following events now (waiting runs stop being told of exits):
        for programs and tests that must not leave the thread behind."""
        with self._lock:
            self._stopping = True
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            stream, thread = self._stream, self._thread
        if stream is not None:
            stream.close()
        if thread is not None:
            thread.join(timeout)

    # --- the thread ----------------------------------------------------------------

    def _all_subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [s for subs in self._subscriptions.values() for s in subs]

    def _should_exit(self) -> bool:
        with self._lock:
            if self._stopping or self._count == 0:
                self._thread = None
                self._since = None
                return True
            return False

    def _run(self) -> None:
        backoff = Backoff(_RETRY_FIRST_SECONDS, _RETRY_MAX_SECONDS)
        down_since: float | None = None
        while not self._should_exit():
            if self._since is None:
                # Even on the first connection: the engine answers before it
                # subscribes, and events of that instant are replayed this way.
                self._since = _format_since(time.time() - _SINCE_MARGIN_SECONDS)
            client = None
            try:
                client = new_client(self.host, timeout=None)
                stream = client.api.events(since=self._since, filters=EVENT_FILTERS, decode=True)
            except Exception as exc:
                if client is not None:
                    client.close()  # one client per attempt: a failed one is not kept
                self.last_error = _describe(exc)
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning(
                        "Cannot reach Docker at %s to follow containers (%s); retrying.",
                        self.host.url,
                        self.last_error,
                    )
                time.sleep(backoff.next())
                continue
            if self._stopping:
                stream.close()
                client.close()
                continue
            with self._lock:
                self._stream = stream
                self.live = True
                self.connections += 1
                reconnected = self.connections > 1
            if down_since is not None and reconnected:
                logger.warning("Reconnected to Docker at %s; re-checking containers.", self.host.url)
            down_since, self.last_error = None, None
            backoff.reset()
            for subscription in self._all_subscriptions():
                subscription.waker.wake()
            try:
                for event in stream:
                    self._dispatch(event)
            except Exception as exc:
                self.last_error = _describe(exc)
            finally:
                with self._lock:
                    self.live = False
                    self._stream = None
                client.close()
            if not self._stopping and self._count:
                down_since = time.monotonic()
                logger.warning(
                    "Lost the events stream of Docker at %s (%s); reconnecting.",
                    self.host.url,
                    self.last_error or "closed by the engine",
                )

    def _dispatch(self, event: dict[str, Any]) -> None:
        time_nano = event.get("timeNano")
        if isinstance(time_nano, int):
            self._since = f"{time_nano // 10**9}.{time_nano % 10**9:09d}"
        else:
            time_nano = int(event.get("time") or 0) * 10**9
        actor = event.get("Actor") or {}
        container_id = str(actor.get("ID") or event.get("id") or "")
        action = event.get("Action") or event.get("status")
        with self._lock:
            subscriptions = list(self._subscriptions.get(container_id, ()))
        for subscription in subscriptions:
            if action == "oom":
                subscription.oom_killed = True
                subscription._oom_time = time_nano
            elif action == "die":
                try:
                    code = int((actor.get("Attributes") or {}).get("exitCode", -1))
                except ValueError:
                    code = -1
                subscription.exit = ContainerExit(code, oom_killed=subscription.oom_killed)
                subscription._exit_time = time_nano
            elif action == "destroy":
                subscription.destroyed = True
            subscription.waker.wake()


def _format_since(timestamp: float) -> str:
    return f"{timestamp:.9f}"


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


_watchers: dict[tuple[str, ...], EventWatcher] = {}
_watchers_lock = threading.Lock()


def shutdown_watchers() -> None:
    """Stop every engine's events thread (they also stop by themselves
    ``LINGER_SECONDS`` after their last run)."""
    with _watchers_lock:
        watchers = list(_watchers.values())
    for watcher in watchers:
        watcher.shutdown()


def watcher_for(host: DockerHost) -> EventWatcher:
    """This process's watcher of ``host``'s events."""
    with _watchers_lock:
        watcher = _watchers.get(host.cache_key)
        if watcher is None:
            watcher = _watchers[host.cache_key] = EventWatcher(host)
        return watcher
