"""Relaying a child's stdout and stderr to ours, every byte, in order per stream.

When our stream is backed by a file descriptor (a terminal, a pipe, a file) the
child writes to it directly: nothing to copy, nothing to lose, full speed. Only
when our stream is a Python object without one (captured output, a notebook)
do we read the child's pipe and copy it over, in large chunks.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import anyio
    from anyio.abc import TaskGroup

_CHUNK = 1 << 20


def _direct_fd(stream: IO[Any]) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    stream.flush()  # our own earlier writes go first
    return fd


def _target_for(stream: IO[Any]) -> int:
    fd = _direct_fd(stream)
    return subprocess.PIPE if fd is None else fd


class Sink:
    """Writes bytes to a Python stream, binary when it can.

    ``Sink.looking_up(get_stream)`` asks ``get_stream`` (e.g. ``lambda:
    sys.stdout``) for the stream at every write instead, so that a redirection
    made after the sink was created is honoured (pytest's capsys,
    ``contextlib.redirect_stdout``); text written to that stream meanwhile is
    flushed first, so it keeps its place.
    """

    def __init__(self, stream: IO[Any]) -> None:
        self._get_stream: Callable[[], IO[Any]] | None = None
        self._bind(stream)

    @classmethod
    def looking_up(cls, get_stream: Callable[[], IO[Any]]) -> Sink:
        sink = cls(get_stream())
        sink._get_stream = get_stream
        return sink

    def _bind(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.buffer = getattr(stream, "buffer", None)
        self.decoder = None if self.buffer is not None else codecs.getincrementaldecoder("utf-8")("replace")
        stream.flush()

    def write(self, data: bytes) -> None:
        if self._get_stream is not None:
            stream = self._get_stream()
            if stream is not self.stream:
                self.finish()
                self._bind(stream)
            elif self.buffer is not None:
                stream.flush()
        if self.buffer is not None:
            self.buffer.write(data)
            self.buffer.flush()
        else:
            assert self.decoder is not None
            self.stream.write(self.decoder.decode(data))
            self.stream.flush()

    def finish(self) -> None:
        """Write what the decoder holds back: a partial UTF-8 sequence at the
        end becomes U+FFFD instead of being lost."""
        if self.decoder is not None:
            rest = self.decoder.decode(b"", final=True)
            if rest:
                self.stream.write(rest)
                self.stream.flush()


class OutputRelay:
    """Where a child's output goes, and the pumps that copy it when needed."""

    def __init__(
        self,
        enabled: bool,
        stdout: IO[Any] | None = None,
        stderr: IO[Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self._streams = (stdout or sys.stdout, stderr or sys.stderr)
        self.stdout_target: int = subprocess.DEVNULL
        self.stderr_target: int = subprocess.DEVNULL
        if enabled:
            self.stdout_target = _target_for(self._streams[0])
            self.stderr_target = _target_for(self._streams[1])
        self._open_pumps = 0
        self._all_done: anyio.Event | None = None  # made when a pump starts
        self._scopes: list[anyio.CancelScope] = []

    def __enter__(self) -> OutputRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cancel_pumps()

    def _cancel_pumps(self) -> None:
        for scope in self._scopes:
            scope.cancel()

    def start(self, task_group: TaskGroup, popen: subprocess.Popen[bytes]) -> None:
        pipes = [
            (popen.stdout, self._streams[0]),
            (popen.stderr, self._streams[1]),
        ]
        import anyio

        for pipe, stream in pipes:
            if pipe is not None:
                if self._all_done is None:
                    self._all_done = anyio.Event()
                self._open_pumps += 1
                task_group.start_soon(self._pump, pipe, Sink(stream))

    async def _pump(self, pipe: IO[bytes], sink: Sink) -> None:
        import anyio

        fd = pipe.fileno()
        os.set_blocking(fd, False)
        scope = anyio.CancelScope()
        self._scopes.append(scope)
        at_end = False
        try:
            with scope:
                while True:
                    await anyio.wait_readable(fd)
                    try:
                        data = os.read(fd, _CHUNK)
                    except BlockingIOError:
                        continue
                    if not data:
                        at_end = True
                        break
                    sink.write(data)
        finally:
            if not at_end:
                _read_what_is_there(fd, sink)  # stopped early: the bytes already written still count
            sink.finish()
            pipe.close()
            self._open_pumps -= 1
            if self._open_pumps == 0 and self._all_done is not None:
                self._all_done.set()

    async def drain_after_exit(self, tree_alive: Callable[[], bool] | None = None) -> None:
        """Once the process has exited: relay until the pipes close, or until
        nothing of the run's tree runs any more (a process outside it may hold
        a pipe open forever; what the tree wrote is in the pipe by then)."""
        import anyio

        if self._all_done is None:
            return  # nothing to relay: the child wrote to our descriptors, or nowhere
        delay = 0.01
        while not self._all_done.is_set():
            with anyio.move_on_after(delay):
                await self._all_done.wait()
            if self._all_done.is_set():
                break
            if tree_alive is not None and not tree_alive():
                self._cancel_pumps()  # each pump reads what is left, then stops
                await self._all_done.wait()
                break
            delay = min(delay * 2, 1.0)


def _read_what_is_there(fd: int, sink: Sink) -> None:
    while True:
        try:
            data = os.read(fd, _CHUNK)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        sink.write(data)
