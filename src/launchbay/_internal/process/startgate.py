"""Starting many runs at once without stalling the event loop or failing them.

A task group that starts 10,000 runs schedules 10,000 first steps in one loop
iteration, and each spawns its process synchronously (fork, exec, a cgroup
move: about a millisecond). Let through, they would keep the loop from its
timers, its pidfds and its output for ten seconds. The gate lets starts
through while an iteration's budget lasts, then queues them in order and lets
one batch through per iteration, so that the loop does its other work between
batches. (On asyncio; on other backends starts go straight through.)

It also waits out a full descriptor table: a start that finds no free file
descriptor (each run holds a pidfd, and a pipe per stream it relays) waits
for another run of this event loop to end and tries again, instead of failing.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from typing import Any

from launchbay._internal.limits import open_file_limit

# How long the starts of one loop iteration may take before the rest wait for
# the next: the loop's lag during a burst stays near this.
BUDGET_SECONDS = 0.005

logger = logging.getLogger("launchbay.process")


class StartGate:
    """The starts of one event loop."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop  # an asyncio loop, or None: no budget
        self._spent = 0.0
        self._armed = False
        self._waiting: deque[Any] = deque()
        self._mean = 0.001  # a start's duration, averaged
        self.running = 0  # runs of this loop that have started and not ended
        self._ended: Any = None  # an anyio Event, set when a run ends

    async def enter(self) -> None:
        """Wait for this start's turn (at once, unless a burst is on)."""
        if self._loop is None or (not self._waiting and self._spent < BUDGET_SECONDS):
            self._arm()
            return
        turn = self._loop.create_future()
        self._waiting.append(turn)
        self._arm()
        try:
            await turn
        except BaseException:
            if not turn.done():
                turn.cancel()  # the next batch skips it
            raise

    def leave(self, seconds: float) -> None:
        """A start has been made (or failed); it took ``seconds``."""
        self._spent += seconds
        self._mean = 0.8 * self._mean + 0.2 * seconds

    def _arm(self) -> None:
        if self._loop is not None and not self._armed:
            self._armed = True
            self._loop.call_soon(self._next_iteration)

    def _next_iteration(self) -> None:
        # Runs once per loop iteration while starts happen: a new budget, and
        # the next batch of waiting starts (they run in the next iteration).
        self._armed = False
        self._spent = 0.0
        batch = max(1, int(BUDGET_SECONDS / max(self._mean, 1e-5)))
        while self._waiting and batch > 0:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                batch -= 1
        if self._waiting:
            self._arm()

    # --- descriptors ---------------------------------------------------------------

    def started(self) -> None:
        self.running += 1

    def ended(self) -> None:
        self.running -= 1
        if self._ended is not None:
            self._ended.set()
            self._ended = None

    async def wait_for_descriptors(self) -> bool:
        """The descriptor table is full: wait until another run of this loop
        ends (True), or say there is none to wait for (False)."""
        import anyio

        if self.running <= 0:
            return False
        _warn_once()
        if self._ended is None:
            self._ended = anyio.Event()
        await self._ended.wait()
        return True


_gates: weakref.WeakKeyDictionary[Any, StartGate] = weakref.WeakKeyDictionary()
_other_backends: dict[int, StartGate] = {}


def current() -> StartGate:
    """The gate of the running event loop."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None  # not asyncio (trio)
    if loop is not None:
        gate = _gates.get(loop)
        if gate is None:
            gate = _gates[loop] = StartGate(loop)
        return gate
    # trio and others: one gate per run of the loop, for the descriptor wait.
    from anyio.lowlevel import current_token

    key = id(current_token())
    gate = _other_backends.get(key)
    if gate is None:
        _other_backends.clear()  # an earlier loop's
        gate = _other_backends[key] = StartGate(None)
    return gate


_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        limit = open_file_limit()
        logger.warning(
            "The open file limit (%s) is reached: new runs wait for others to end. "
            "Raise it with `ulimit -n` or launchbay.raise_open_file_limit().",
            limit if limit is not None else "unknown",
        )
