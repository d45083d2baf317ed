"""A byte-for-byte forwarding proxy for tests that break connections on purpose:
cut every open connection at once (what a client sees when a server restarts),
refuse new ones for a while, and record the HTTP request lines that pass."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable

_REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|DELETE|HEAD|PATCH) [^ \r\n]+ HTTP/1\.[01]\r\n")


class ForwardingProxy:
    def __init__(self, listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
        self._listener = listener
        self._connect = connect
        self.requests: list[str] = []
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._refusing = threading.Event()
        self._closed = False
        listener.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def unix(cls, path: str, target: str) -> ForwardingProxy:
        """Listens on the unix socket ``path``, forwards to the one at ``target``."""
        return cls(*unix_endpoints(path, target))

    @classmethod
    def tcp(cls, target: tuple[str, int]) -> ForwardingProxy:
        """Listens on a free loopback port, forwards to ``target``."""
        return cls(*tcp_endpoints(target))

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            try:
                upstream = self._connect()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.requests += [m.group(0).decode().strip() for m in _REQUEST_LINE.finditer(data)]
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut_connections(self) -> int:
        """Close every open connection; returns how many there were."""
        with self._lock:
            connections, self._connections = self._connections, []
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        return len(connections)

    def refuse(self, refusing: bool = True) -> None:
        if refusing:
            self._refusing.set()
        else:
            self._refusing.clear()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut_connections()


Endpoints = tuple[socket.socket, Callable[[], socket.socket]]


def unix_endpoints(path: str, target: str) -> Endpoints:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)

    def connect() -> socket.socket:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(target)
        return upstream

    return listener, connect


def tcp_endpoints(target: tuple[str, int]) -> Endpoints:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener, lambda: socket.create_connection(target)
