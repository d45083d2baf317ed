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

import os
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]$")


@dataclass
class Request:
    method: str
    path: str

    @property
    def is_watch(self) -> bool:
        return bool(re.search(r"[?&]watch=(true|1)", self.path))

    @property
    def is_follow(self) -> bool:
        return bool(re.search(r"[?&]follow=(true|1)", self.path))


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
                self.marks[name] = self.requests[self._open.pop(name):]


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
    """Listen on ``listener``; forward each connection to what ``connect`` opens."""

    def __init__(
        self, listener: socket.socket, connect: Callable[[], socket.socket], half_close: bool = True
    ) -> None:
        self.listener = listener
        self.half_close = half_close  # TLS sockets cannot half-close: close instead
        self.connect = connect
        self.counter = Counter()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @classmethod
    def for_unix_socket(cls, listen_path: str, upstream_path: str) -> CountingProxy:
        if os.path.exists(listen_path):
            os.unlink(listen_path)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(listen_path)
        listener.listen(128)

        def connect() -> socket.socket:
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(upstream_path)
            return upstream

        return cls(listener, connect)

    @classmethod
    def for_tls_server(cls, host: str, port: int, context: ssl.SSLContext) -> CountingProxy:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)

        def connect() -> socket.socket:
            raw = socket.create_connection((host, port))
            return context.wrap_socket(raw, server_hostname=host)

        return cls(listener, connect, half_close=False)

    @property
    def address(self) -> tuple[str, int] | str:
        return self.listener.getsockname()

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed = True
        try:
            self.listener.close()
        except OSError:
            pass

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        first = b""
        while b"\r\n\r\n" not in first:
            data = client.recv(65536)
            if not data:
                client.close()
                return
            first += data
        line = first.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split(" ")
        if len(parts) == 3 and parts[1].startswith("/_bench/"):
            self.counter.mark(parts[1][len("/_bench/") :])
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        try:
            upstream = self.connect()
        except OSError as exc:
            client.sendall(f"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nX-Error: {exc}\r\n\r\n".encode())
            client.close()
            return
        parser = _RequestParser(self.counter.record)
        parser.feed(first)
        upstream.sendall(first)
        back = threading.Thread(target=_pump, args=(upstream, client, None, True), daemon=True)
        back.start()
        _pump(client, upstream, parser.feed, self.half_close)
        back.join()
        client.close()
        upstream.close()


def _pump(
    source: socket.socket, sink: socket.socket, observe: Callable[[bytes], None] | None, half_close: bool
) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if observe is not None:
                observe(data)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        # Let the other side see the end of the stream.
        try:
            if half_close:
                sink.shutdown(socket.SHUT_WR)
            else:
                sink.close()
                source.close()
        except OSError:
            pass
