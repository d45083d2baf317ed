"""Following a pod container's log to our stdout, surviving dropped streams.

The log is requested with timestamps. Each line's timestamp is stripped before
the line is written, and remembered: when the stream drops, it is reopened with
``sinceTime`` set to the last timestamp written, and the lines the new stream
repeats (those older than it, and as many at exactly that instant as were
already written) are skipped. No line is written twice or lost.

The end of a log: the kubelet ends a follow some time after the container
exits (it checks the container's state now and then). A stream that was open
while the container ran has delivered the container's output as it was
written, so once the shared watch shows the container terminated and the
stream has been silent for ``LOG_SETTLE_SECONDS``, the log is complete (what
the stream has buffered is read first) and the follower stops without
waiting for the kubelet.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable

import anyio

from launchbay._internal import loggers
from launchbay._internal.kubernetes.api import (
    AuthSettling,
    KubeApi,
    KubernetesApiError,
    describe_error,
    is_transient,
)
from launchbay._internal.output import Sink
from launchbay._internal.retry import Backoff
from launchbay._internal.timestamps import parse_rfc3339

logger = logging.getLogger(loggers.KUBERNETES)
# A container that has ended but whose log stream stays silent this long is
# followed again (the stream's connection may have died without notice).
STALLED_STREAM_SECONDS = 10.0
# How long a log stream that ended waits for the watch to report its
# container's end before taking the end for a dropped stream.
STATUS_LAG_SECONDS = 3.0
# Silence, once the container has terminated, after which a stream that was
# open while it ran is complete.
LOG_SETTLE_SECONDS = 0.02
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 2.0


def _warn(message: str) -> None:
    """A log stream error is a warning and the run goes on (SPEC 7.4): a log
    record and a UserWarning (SPEC 8)."""
    logger.warning(message)
    warnings.warn(message, UserWarning, stacklevel=2)


def split_line(line: bytes) -> tuple[tuple[int, int] | None, str | None, bytes]:
    """(timestamp, its text, content) of a line the kubelet prefixed with its
    RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) and a space."""
    prefix, space, content = line.partition(b" ")
    if space:
        try:
            text = prefix.decode("ascii")
            return parse_rfc3339(text), text, content
        except ValueError:  # UnicodeDecodeError included
            pass
    return None, None, line


class LogCursor:
    """How far a log has been written, to resume a stream without repeats."""

    def __init__(self) -> None:
        self.last: tuple[int, int] | None = None
        self.last_text: str | None = None
        self.written_at_last = 0
        self._skip = 0

    @property
    def since_time(self) -> str | None:
        return self.last_text

    def new_stream(self) -> None:
        """A stream (re)opened from ``since_time`` repeats the lines written at
        exactly that instant: skip that many."""
        self._skip = self.written_at_last

    def accept(self, stamp: tuple[int, int] | None, text: str | None) -> bool:
        if stamp is None:
            return True
        if self.last is None or stamp > self.last:
            self.last, self.last_text, self.written_at_last = stamp, text, 1
            self._skip = 0
            return True
        if stamp == self.last:
            if self._skip > 0:
                self._skip -= 1
                return False
            self.written_at_last += 1
            return True
        return False  # older than what was written: a repeat


class LogFollower:
    """Follows one container of one pod until its log ends.

    ``container_done`` tells whether the container has terminated (from the
    shared watch): a stream that ends while it has not is a dropped stream,
    and is reopened. ``lost`` tells whether the pod is gone (no log any more).
    """

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        pod: str,
        container: str,
        sink: Sink,
        container_done: Callable[[], bool],
        lost: Callable[[], bool],
        wait_for_news: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.sink = sink
        self.container_done = container_done
        self.lost = lost
        self.wait_for_news = wait_for_news
        self.cursor = LogCursor()
        self.last_data = time.monotonic()
        self.settling = AuthSettling()  # a restarted API server refuses for a moment
        self.streams = 0  # log requests made
        self._connected_at: float | None = None  # when the current stream answered
        self._read_scope: anyio.CancelScope | None = None

    async def follow(self) -> None:
        """Write the log to the sink, to its end."""
        try:
            await self._follow()
        finally:
            self.sink.finish()  # a partial UTF-8 sequence at the end is not lost

    async def _follow(self) -> None:
        backoff = Backoff(FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS)
        while True:
            finished_cleanly = False
            try:
                finished_cleanly = await self._stream_with_watchdog()
            except KubernetesApiError as exc:
                if exc.status == 404 or self.lost():
                    return  # the pod is gone, and its log with it
                if exc.status == 400 and self.container_done():
                    return  # e.g. the container never started
                if self.settling.tolerates(exc):
                    logger.debug(
                        "Log stream of pod %r refused (%s); retrying.", self.pod, describe_error(exc)
                    )
                elif not exc.transient and exc.status != 400:
                    _warn(f"Cannot stream the log of pod {self.pod!r}: {describe_error(exc)}")
                    return
            except Exception as exc:
                if not is_transient(exc):
                    _warn(f"Error streaming the log of pod {self.pod!r}: {describe_error(exc)}")
                    return
                logger.debug("Log stream of pod %r dropped (%s); resuming.", self.pod, describe_error(exc))
            if finished_cleanly:
                # The kubelet ends the stream when the container exits, often
                # before the watch says so: give the watch a moment first.
                deadline = time.monotonic() + STATUS_LAG_SECONDS
                while self.wait_for_news is not None and not (self.container_done() or self.lost()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    await self.wait_for_news(remaining)
                if self.container_done() or self.lost():
                    return
                logger.debug("Log stream of pod %r ended before its container did; reopening.", self.pod)
            await anyio.sleep(backoff.next())

    async def _stream_with_watchdog(self) -> bool:
        """One stream, with a watchdog that ends it once the container has
        terminated: settled (silent for ``LOG_SETTLE_SECONDS``, when it was
        open while the container ran), or abandoned, and so reopened, when it
        stays silent for ``STALLED_STREAM_SECONDS`` (a connection that died
        without a word, or a stream silent since long before the end)."""
        result = False
        error: Exception | None = None
        opened_while_running = not self.container_done()
        self._connected_at = None
        async with anyio.create_task_group() as task_group:

            async def stream() -> None:
                nonlocal result, error
                try:
                    result = await self._stream_once()
                except Exception as exc:
                    error = exc
                task_group.cancel_scope.cancel()

            async def watchdog() -> None:
                done_at: float | None = None
                while True:
                    now = time.monotonic()
                    connected = self._connected_at
                    if not self.container_done():
                        if self.wait_for_news is None:
                            await anyio.sleep(1.0)
                        else:
                            await self.wait_for_news(1.0)
                        continue
                    if connected is None:  # the stream has not answered yet
                        await anyio.sleep(LOG_SETTLE_SECONDS)
                        continue
                    if done_at is None:
                        done_at = now
                    heard = max(self.last_data, connected)
                    if opened_while_running and done_at - heard <= STALLED_STREAM_SECONDS:
                        quiet = now - max(heard, done_at)
                        if quiet >= LOG_SETTLE_SECONDS:
                            scope = self._read_scope
                            if scope is not None:
                                scope.cancel()  # the stream reads what it has, and ends
                            await anyio.sleep(LOG_SETTLE_SECONDS)  # unless more came meanwhile
                        else:
                            await anyio.sleep(LOG_SETTLE_SECONDS - quiet)
                        continue
                    silent = now - heard
                    if silent > STALLED_STREAM_SECONDS:
                        logger.debug("Log stream of pod %r stalled; reopening.", self.pod)
                        task_group.cancel_scope.cancel()
                        return
                    await anyio.sleep(min(STALLED_STREAM_SECONDS - silent + 0.01, 1.0))

            task_group.start_soon(stream)
            task_group.start_soon(watchdog)
        if error is not None:
            raise error
        return result

    async def _stream_once(self) -> bool:
        """One log request; True when it reached the end of the log."""
        query = [("container", self.container), ("follow", "true"), ("timestamps", "true")]
        if self.cursor.since_time:
            query.append(("sinceTime", self.cursor.since_time))
        self.cursor.new_stream()
        pending = b""
        self.streams += 1
        async with self.api.stream(
            f"/api/v1/namespaces/{self.namespace}/pods/{self.pod}/log", what="LOG pod", query=query
        ) as response:
            self.settling.success()
            self._connected_at = time.monotonic()
            while True:
                chunk = b""
                with anyio.CancelScope() as self._read_scope:
                    chunk = await response.content.readany()
                if self._read_scope.cancelled_caught:
                    # Settled (see the watchdog): what arrived meanwhile is
                    # still in the response's buffer (a cancelled wait loses
                    # nothing); the log ends after it.
                    chunk = response.content.read_nowait()
                    if not chunk:
                        break
                elif not chunk:
                    break
                self.last_data = time.monotonic()
                pending = self._write_lines(pending + chunk)
        self._read_scope = None
        if pending:
            if not self.container_done():
                return False  # cut short: the reopened stream repeats the whole line
            tail = self._line(pending, b"")  # the log's last line has no newline
            if tail:
                self.sink.write(tail)
        return True

    def _write_lines(self, data: bytes) -> bytes:
        """Write the whole lines of ``data``; return the partial last one."""
        *lines, pending = data.split(b"\n")
        out = [self._line(line, b"\n") for line in lines]
        written = b"".join(item for item in out if item is not None)
        if written:
            self.sink.write(written)
        return pending

    def _line(self, line: bytes, end: bytes) -> bytes | None:
        stamp, text, content = split_line(line)
        if not self.cursor.accept(stamp, text):
            return None
        return content + end
