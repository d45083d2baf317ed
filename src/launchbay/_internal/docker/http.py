"""A minimal async HTTP/1.1 client for the engine's streaming endpoints.

Container output (``attach``, ``logs?follow=1``) is read by the event loop from
the engine's socket, so any number of containers are streamed without a thread
each. Unix sockets and TCP (with or without TLS) are supported; other
transports (``ssh://``, Windows named pipes) raise ``StreamUnsupported`` and
the caller falls back to docker-py in a worker thread.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import anyio
from anyio.abc import ByteStream
from anyio.streams.buffered import BufferedByteReceiveStream

from launchbay._internal.docker.connection import DockerHost

_MAX_HEAD = 64 * 1024
_READ = 256 * 1024


class StreamUnsupported(Exception):
    """This transport is not spoken here; use docker-py instead."""


class StreamBroken(Exception):
    """The connection ended in the middle of a response."""


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]
    _stream: ByteStream
    _reader: BufferedByteReceiveStream
    _mode: str  # "raw" (upgraded or until close), "chunked", "length"
    _remaining: int = 0
    _done: bool = field(default=False)

    async def iter_body(self) -> AsyncIterator[bytes]:
        """The body as it arrives. Raises ``StreamBroken`` when the connection
        drops before the body's declared end."""
        if self._mode == "length":
            while self._remaining > 0:
                data = await self._receive(min(self._remaining, _READ))
                if not data:
                    raise StreamBroken("connection closed before the end of the response")
                self._remaining -= len(data)
                yield data
        elif self._mode == "chunked":
            async for data in self._iter_chunked():
                yield data
        else:
            while True:
                data = await self._receive(_READ)
                if not data:
                    return
                yield data

    async def _iter_chunked(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._receive_line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise StreamBroken(f"invalid chunk header {line[:40]!r}") from None
            if size == 0:
                while await self._receive_line():  # trailers, until the blank line
                    pass
                return
            remaining = size
            while remaining:
                data = await self._receive(min(remaining, _READ))
                if not data:
                    raise StreamBroken("connection closed inside a chunk")
                remaining -= len(data)
                yield data
            await self._receive_line()

    async def _receive(self, max_bytes: int) -> bytes:
        try:
            return await self._reader.receive(max_bytes)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return b""
        except (anyio.BrokenResourceError, OSError, ssl.SSLError) as exc:
            raise StreamBroken(str(exc) or type(exc).__name__) from None

    async def _receive_line(self) -> bytes:
        try:
            return await self._reader.receive_until(b"\r\n", _MAX_HEAD)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            raise StreamBroken("connection closed inside a chunked response") from None
        except (anyio.BrokenResourceError, anyio.DelimiterNotFound, OSError, ssl.SSLError) as exc:
            raise StreamBroken(str(exc) or type(exc).__name__) from None

    async def read_all(self, limit: int = 1 << 20) -> bytes:
        body = bytearray()
        async for data in self.iter_body():
            body += data
            if len(body) > limit:
                break
        return bytes(body)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()


def _ssl_context(tls: Any) -> ssl.SSLContext:
    """An SSL context from docker-py's TLSConfig (DOCKER_CERT_PATH files)."""
    verify = getattr(tls, "verify", False)
    ca_cert = getattr(tls, "ca_cert", None)
    context = ssl.create_default_context(cafile=ca_cert if verify and ca_cert else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = getattr(tls, "cert", None)
    if cert:
        context.load_cert_chain(*cert) if isinstance(cert, tuple) else context.load_cert_chain(cert)
    return context


async def _connect(host: DockerHost) -> ByteStream:
    path = host.unix_socket_path
    if path is not None:
        return await anyio.connect_unix(path)
    address = host.tcp_address
    if address is None:
        raise StreamUnsupported(host.url)
    tls = host.tls
    if tls or host.url.startswith("https://"):
        return await anyio.connect_tcp(*address, ssl_context=_ssl_context(tls), tls_standard_compatible=False)
    return await anyio.connect_tcp(*address)


async def request(
    host: DockerHost,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    upgrade: bool = False,
) -> HttpResponse:
    """Send one request on a new connection and read the response head.

    ``upgrade`` asks for a hijacked connection (``attach``): after ``101`` the
    socket carries the raw stream until the engine closes it.
    """
    query = f"?{urlencode(params)}" if params else ""
    lines = [
        f"{method} {path}{query} HTTP/1.1",
        "Host: docker",
        "User-Agent: launchbay",
        "Content-Length: 0",
    ]
    if upgrade:
        lines += ["Connection: Upgrade", "Upgrade: tcp"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    stream = await _connect(host)
    try:
        await stream.send(head)
        reader = BufferedByteReceiveStream(stream)
        try:
            raw_head = await reader.receive_until(b"\r\n\r\n", _MAX_HEAD)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound) as exc:
            raise StreamBroken(f"no HTTP response from the engine ({type(exc).__name__})") from None
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        _, status, reason = ([*status_line.split(" ", 2), ""])[:3]
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        mode = "raw"
        remaining = 0
        if int(status) != 101:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                mode = "chunked"
            elif "content-length" in headers:
                mode, remaining = "length", int(headers["content-length"])
        return HttpResponse(int(status), reason, headers, stream, reader, mode, remaining)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise
