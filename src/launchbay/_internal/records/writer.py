"""The record writes of runs on an event loop, made by one thread per store.

A write to the store can wait: on SQLite's write lock (other processes
record too), on a checkpoint of its log, on a PostgreSQL server. On the
loop's thread that wait would stall every run the loop holds, so the runs of
an event loop hand their writes to this thread and await the outcome; the
loop only pays the hand-over and the wake-up.

One thread per store, in the order given: a run's writes (its record, its pid,
its end) are made in the order the run asked for them, even when the pid is
handed over without waiting (``TaskStatus.started`` cannot wait).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from launchbay._internal.records.store import RecordStore

T = TypeVar("T")

logger = logging.getLogger("launchbay.runs")

# How long a writer thread with nothing to write waits before it ends (a
# process that opens many stores keeps no thread for each).
IDLE_SECONDS = 2.0


class Write(Generic[T]):
    """One write: ``apply`` (a call of the store's), then ``finished`` with its
    outcome, on the writer's thread."""

    __slots__ = ("_apply", "_finished", "error", "value")

    def __init__(self, apply: Callable[[], T], finished: Callable[[Write[T]], None] | None = None) -> None:
        self._apply = apply
        self._finished = finished
        self.value: T | None = None
        self.error: BaseException | None = None

    @property
    def awaited(self) -> bool:
        """Someone waits for the outcome (else an error is only logged)."""
        return self._finished is not None

    def run(self) -> None:
        try:
            self.value = self._apply()
        except Exception as exc:  # the caller's to see, in its own thread
            self.error = exc
        if self._finished is not None:
            self._finished(self)

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class StoreWriter:
    """The writer thread of one store (started on the first write, ended when
    idle; a daemon: a run awaits its own writes, so none is pending when its
    process ends)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._queue: deque[Write[Any]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, write: Write[Any]) -> None:
        """Queue ``write`` (from any thread; returns at once)."""
        with self._ready:
            if self._pid != os.getpid():  # a forked child: the thread stayed in the parent
                self._pid, self._thread = os.getpid(), None
                self._queue.clear()
            self._queue.append(write)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="launchbay-records", daemon=True)
                self._thread.start()
            self._ready.notify()

    async def call(self, apply: Callable[[], T]) -> T:
        """``apply()`` on the writer's thread; its outcome. A write once asked
        for is waited for, even by a cancelled task (the caller learns how it
        went, and a cancelled run's end is still recorded)."""
        import anyio

        done = anyio.Event()
        from launchbay._internal.wakeup import call_soon_threadsafe

        wake = call_soon_threadsafe()
        write = Write(apply, lambda _: _wake(wake, done.set))
        self.submit(write)
        with anyio.CancelScope(shield=True):
            await done.wait()
        return write.outcome()

    def call_blocking(self, apply: Callable[[], T]) -> T:
        """``apply()`` on the writer's thread, this thread waiting (for the
        sync calls of a recording begun on a loop: its order is kept)."""
        done = threading.Event()
        write = Write(apply, lambda _: done.set())
        self.submit(write)
        done.wait()
        return write.outcome()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    if not self._ready.wait(IDLE_SECONDS) and not self._queue:
                        self._thread = None  # idle: the next write starts another
                        return
                write = self._queue.popleft()
            write.run()
            if write.error is not None and not write.awaited:
                logger.warning("A run's record could not be written: %s", write.error)


def _wake(call_soon: Callable[[Callable[[], object]], object], callback: Callable[[], object]) -> None:
    try:
        call_soon(callback)
    except RuntimeError:
        pass  # the loop has closed: nobody waits any more


_writers_lock = threading.Lock()


def writer_for(store: RecordStore) -> StoreWriter:
    """The writer of ``store``, kept on it: one thread per store object (the
    process's shared store has one, whatever the number of loops and runs)."""
    with _writers_lock:
        writer = vars(store).get("_writer")
        if not isinstance(writer, StoreWriter):
            writer = vars(store)["_writer"] = StoreWriter(store)
        return writer
