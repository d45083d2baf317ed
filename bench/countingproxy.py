"""A byte-for-byte forwarding proxy that counts the HTTP requests clients make.

Clients connect to a local socket (a unix socket standing in for the Docker
socket, or plain TCP standing in for the Kubernetes API server); each
connection is forwarded to the real endpoint (the Docker socket, or the API
server over TLS with the admin client certificate). Requests are parsed only to
count them: request line, headers, then a Content-Length or chunked body; once a
connection upgrades (docker attach) it is passed through uncounted.

A client marks the runs to count with ``GET /_bench/begin/NAME`` and
``GET /_bench/end/NAME`` on a connection of its own; the proxy answers those
itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]$")


@dataclass
class Request:
    method: str
    path: str

    @property
    def is_watch(self) -> bool:
        return bool(re.search(r"[?&]watch=(true|1)", self.path, re.IGNORECASE))

    @property
    def is_follow(self) -> bool:
        return bool(re.search(r"[?&]follow=(true|1)", self.path, re.IGNORECASE))


@dataclass
class Counter:
    requests: list[Request] = field(default_factory=list)
    marks: dict[str, list[Request]] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def mark(self, what: str) -> None:
        kind, _, name = what.partition("/")
        with self.lock:
            if kind == "begin":
                self._open[name] = len(self.requests)
            elif kind == "end" and name in self._open:
                self.marks[name] = self.requests[self._open.pop(name) :]


class _RequestParser:
    """Incremental parse of one connection's client-to-server bytes."""

    def __init__(self, on_request: Callable[[Request], None]) -> None:
        self.buffer = b""
        self.on_request = on_request
        self.body_left = 0
        self.chunked = False
        self.passthrough = False

    def feed(self, data: bytes) -> None:
        if self.passthrough:
            return
        self.buffer += data
        while self.buffer and not self.passthrough:
            if self.body_left:
                taken = min(self.body_left, len(self.buffer))
                self.buffer = self.buffer[taken:]
                self.body_left -= taken
                continue
            if self.chunked:
                if not self._skip_chunk():
                    return
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 1 << 16:
                    self.passthrough = True  # not HTTP as we know it
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            lines = head.split(b"\r\n")
            match = _REQUEST_LINE.match(lines[0])
            if not match:
                self.passthrough = True
                return
            self.on_request(Request(match.group(1).decode(), match.group(2).decode()))
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip().lower()
            if b"upgrade" in headers or b"upgrade" in headers.get(b"connection", b""):
                self.passthrough = True
            elif headers.get(b"transfer-encoding") == b"chunked":
                self.chunked = True
            else:
                self.body_left = int(headers.get(b"content-length", b"0") or 0)

    def _skip_chunk(self) -> bool:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return False
        size = int(self.buffer[:end].split(b";")[0], 16)
        if size == 0:
            trailer_end = self.buffer.find(b"\r\n\r\n", end)
            if trailer_end < 0:
                return False
            self.buffer = self.buffer[trailer_end + 4 :]
            self.chunked = False
            return True
        if len(self.buffer) < end + 2 + size + 2:
            return False
        self.buffer = self.buffer[end + 2 + size + 2 :]
        return True


class CountingProxy:
    """Listen on a local socket; forward each connection to what ``connect``
    opens. One asyncio loop in a background thread carries every connection
    (TLS included: asyncio's TLS reads and writes safely at once)."""

    def __init__(
        self,
        serve: Callable[..., Awaitable[asyncio.AbstractServer]],
        connect: Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]],
        half_close: bool,
    ) -> None:
        self._serve_factory = serve
        self.connect = connect
        self.half_close = half_close  # TLS cannot half-close: close instead
        self.counter = Counter()
        self.address: Any = None
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @classmethod
    def for_unix_socket(cls, listen_path: str, upstream_path: str) -> CountingProxy:
        if os.path.exists(listen_path):
            os.unlink(listen_path)

        def serve(handler: Any) -> Awaitable[asyncio.AbstractServer]:
            return asyncio.start_unix_server(handler, path=listen_path, limit=1 << 20)

        def connect() -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
            return asyncio.open_unix_connection(upstream_path, limit=1 << 20)

        return cls(serve, connect, half_close=True)

    @classmethod
    def for_tls_server(cls, host: str, port: int, context: ssl.SSLContext) -> CountingProxy:
        def serve(handler: Any) -> Awaitable[asyncio.AbstractServer]:
            return asyncio.start_server(handler, host="127.0.0.1", port=0, limit=1 << 20)

        def connect() -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
            return asyncio.open_connection(host, port, ssl=context, server_hostname=host, limit=1 << 20)

        return cls(serve, connect, half_close=False)

    def start(self) -> CountingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            self._serve_factory(self._handle), self._loop
        ).result()
        self.address = self._server.sockets[0].getsockname()
        return self

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            # Let them end before the loop stops (no "Task was destroyed" noise).
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio's streams drop their reference to this task when the client
        # goes: keep one, or the garbage collector destroys it while it still
        # forwards the server's side.
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._forward(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        parts = first.split(b"\r\n", 1)[0].decode(errors="replace").split(" ")
        if len(parts) == 3 and parts[1].startswith("/_bench/"):
            self.counter.mark(parts[1][len("/_bench/") :])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await self.connect()
        except OSError as exc:
            writer.write(f"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nX-Error: {exc}\r\n\r\n".encode())
            writer.close()
            return
        parser = _RequestParser(self.counter.record)
        parser.feed(first)
        up_writer.write(first)
        back = asyncio.create_task(_pump(up_reader, writer, None, half_close=True))
        try:
            await _pump(reader, up_writer, parser.feed, half_close=self.half_close)
            await back
        finally:
            back.cancel()
            for w in (writer, up_writer):
                w.close()


async def _pump(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    observe: Callable[[bytes], None] | None,
    half_close: bool,
) -> None:
    try:
        while data := await source.read(1 << 16):
            if observe is not None:
                observe(data)
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    # Let the other side see the end of the stream.
    try:
        if half_close and sink.can_write_eof():
            sink.write_eof()
        else:
            sink.close()
    except (ConnectionError, OSError, RuntimeError):
        pass
