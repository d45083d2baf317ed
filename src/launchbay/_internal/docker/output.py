"""A container's output, relayed to ours with every byte, in order per stream.

For a run, launchbay attaches to the container *before* starting it, so the
first bytes are not missed, and reads until the engine closes the stream after
the container's last write. If that connection breaks (engine restart, network
drop), the rest is fetched from the container's log, skipping the bytes already
relayed for each stream: nothing is lost and nothing repeated.
"""

from __future__ import annotations

import logging
import struct
import sys
from collections.abc import AsyncIterable, Callable, Iterator
from typing import IO, Any

import anyio

from launchbay._internal import loggers
from launchbay._internal.docker.connection import DockerHost
from launchbay._internal.docker.streams import ByteStream, EngineStreams, StreamBroken
from launchbay._internal.output import Sink

STDOUT = 1
STDERR = 2
_HEADER = struct.Struct(">BxxxL")

logger = logging.getLogger(loggers.DOCKER)


class FrameDecoder:
    """Splits Docker's multiplexed stream (8-byte header: stream, 0, 0, 0,
    big-endian length; then the payload) into (stream, bytes) pieces. Payloads
    are passed on as they arrive, even when a frame spans reads."""

    def __init__(self) -> None:
        self._header = b""
        self._stream = STDOUT
        self._left = 0

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        view = memoryview(data)
        while view:
            if self._left == 0:
                need = _HEADER.size - len(self._header)
                self._header += bytes(view[:need])
                view = view[need:]
                if len(self._header) < _HEADER.size:
                    return
                self._stream, self._left = _HEADER.unpack(self._header)
                self._header = b""
                continue
            piece = bytes(view[: self._left])
            view = view[len(piece) :]
            self._left -= len(piece)
            if piece:
                yield self._stream, piece

    @property
    def mid_frame(self) -> bool:
        return bool(self._header) or self._left > 0


class ContainerOutput:
    """Relays one container's stdout and stderr, counting what was relayed so a
    broken stream can be resumed from the log exactly where it stopped."""

    def __init__(
        self,
        host: DockerHost,
        streams: EngineStreams | None,
        container_id: str,
        *,
        tty: bool = False,
        stdout: IO[Any] | None = None,
        stderr: IO[Any] | None = None,
    ) -> None:
        self.host = host
        self.streams = streams  # None: a transport httpx does not speak (docker-py in a thread)
        self.container_id = container_id
        self.tty = tty
        self.sinks = {STDOUT: Sink(stdout or sys.stdout), STDERR: Sink(stderr or sys.stderr)}
        self.relayed = {STDOUT: 0, STDERR: 0}
        self.complete = False  # the engine ended the stream cleanly

    # --- attaching (before start) ------------------------------------------------

    async def attach(self) -> ByteStream | None:
        """Open the attach stream; call before the container starts. Returns
        the stream (consume it with ``relay``), or None when this transport
        needs the threaded fallback."""
        if self.streams is None:
            return None
        return await self.streams.attach(self.container_id)

    async def relay(self, body: ByteStream | None) -> None:
        """Relay an attach stream to the end. A broken connection leaves
        ``complete`` False; ``resume_from_log`` then fetches the rest."""
        if body is None:
            await self._relay_in_thread(follow=True, logs=False)
            return
        try:
            await self._relay_body(body, skip=False)
        except (StreamBroken, OSError) as exc:
            logger.warning(
                "Lost the output stream of container %s (%s); resuming from its log.",
                self.container_id[:12],
                exc,
            )
        finally:
            await body.aclose()

    async def _relay_body(self, body: AsyncIterable[bytes], *, skip: bool) -> None:
        decoder = FrameDecoder()
        seen = {STDOUT: 0, STDERR: 0}
        async for data in body:
            pieces = [(STDOUT, data)] if self.tty else decoder.feed(data)
            for frame_stream, frame in pieces:
                stream = STDERR if frame_stream == STDERR else STDOUT
                piece = frame
                if skip:
                    # Resuming: drop what was relayed before the break.
                    already = self.relayed[stream] - seen[stream]
                    seen[stream] += len(piece)
                    if already >= len(piece):
                        continue
                    if already > 0:
                        piece = piece[already:]
                self.sinks[stream].write(piece)
                self.relayed[stream] += len(piece)
                if skip:
                    seen[stream] = self.relayed[stream]
        if not self.tty and decoder.mid_frame:
            raise StreamBroken("the stream ended inside a frame")
        self.complete = True

    # --- the log (resuming, reattaching) ---------------------------------------------

    async def follow_log(self, *, follow: bool = True) -> None:
        """Relay the container's log from its start, skipping what was already
        relayed; with ``follow`` keep going until the container stops."""
        if self.streams is None:
            await self._relay_in_thread(follow=follow, logs=True)
            return
        body = await self.streams.logs(self.container_id, follow=follow)
        try:
            await self._relay_body(body, skip=True)
        finally:
            await body.aclose()

    async def _relay_in_thread(self, *, follow: bool, logs: bool) -> None:
        """docker-py's blocking stream, for transports the event loop cannot
        speak (ssh://, named pipes): one worker thread for this stream only.
        docker-py's log stream merges stdout and stderr, so a log read this way
        goes to our stdout, skipping as many bytes as were already relayed."""
        from launchbay._internal.docker.connection import new_client

        skip = [self.relayed[STDOUT] + self.relayed[STDERR]] if logs else [0]

        def read(emit: Callable[[int, bytes], None]) -> None:
            client = new_client(self.host, timeout=None)
            try:
                if logs:
                    chunks = client.api.logs(
                        self.container_id, stream=True, follow=follow, stdout=True, stderr=True
                    )
                    for chunk in chunks:
                        anyio.from_thread.run_sync(emit, STDOUT, chunk)
                else:
                    for out, err in client.api.attach(self.container_id, stream=True, demux=True):
                        if out:
                            anyio.from_thread.run_sync(emit, STDOUT, out)
                        if err:
                            anyio.from_thread.run_sync(emit, STDERR, err)
            finally:
                client.close()

        def emit(stream: int, data: bytes) -> None:
            if skip[0]:
                dropped = min(skip[0], len(data))
                skip[0] -= dropped
                data = data[dropped:]
                if not data:
                    return
            self.sinks[stream].write(data)
            self.relayed[stream] += len(data)

        await anyio.to_thread.run_sync(read, emit, abandon_on_cancel=True)
        self.complete = True

    def finish(self) -> None:
        for sink in self.sinks.values():
            sink.finish()
