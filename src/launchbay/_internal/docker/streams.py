"""The engine's streaming endpoints (``attach``, ``logs``, the pull's
progress) on the event loop, through httpx.

Container output is read by the event loop from the engine's socket, so any
number of containers are streamed without a thread each. httpx speaks Unix
sockets and TCP (with or without TLS); ``attach`` asks for an upgraded
connection (``Upgrade: tcp``) and reads the raw stream from the response's
``network_stream``. Other transports (``ssh://``, Windows named pipes) are not
spoken here: ``supports`` says so and the caller uses docker-py in a worker
thread instead.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpcore
import httpx

from launchbay._internal.docker.connection import REQUEST_TIMEOUT_SECONDS, DockerHost

_READ = 256 * 1024
# Streams have no read timeout: a quiet container may write nothing for hours.
_TIMEOUT = httpx.Timeout(REQUEST_TIMEOUT_SECONDS, read=None)
_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


class StreamBroken(Exception):
    """The connection failed or ended in the middle of a response."""


class EngineUnreachable(StreamBroken):
    """No connection to the engine could be made."""


class LogUnavailable(Exception):
    """The engine answered, but will not give the container's log (e.g. a log
    driver that cannot be read back)."""


class ContainerGone(LogUnavailable):
    """The container no longer exists (removed), so its log cannot be read."""


class PullRefused(Exception):
    """The engine answered a pull with an error status; the message is its own."""


def supports(host: DockerHost) -> bool:
    """Whether httpx can reach this engine (a Unix socket or TCP)."""
    return host.unix_socket_path is not None or host.tcp_address is not None


_tls_contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
_tls_lock = threading.Lock()


def _tls_context(host: DockerHost) -> ssl.SSLContext:
    """An SSL context from docker-py's TLSConfig (DOCKER_CERT_PATH files),
    built once per engine (loading certificates takes milliseconds)."""
    with _tls_lock:
        context = _tls_contexts.get(host.cache_key)
        if context is not None:
            return context
        tls = host.tls
        verify = getattr(tls, "verify", False)
        ca_cert = getattr(tls, "ca_cert", None)
        context = ssl.create_default_context(cafile=ca_cert if verify and ca_cert else None)
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        cert = getattr(tls, "cert", None)
        if isinstance(cert, tuple):
            context.load_cert_chain(*cert)
        elif cert:
            context.load_cert_chain(cert)
        _tls_contexts[host.cache_key] = context
        return context


def _client(host: DockerHost) -> httpx.AsyncClient:
    path = host.unix_socket_path
    uses_tls = bool(host.tls) or host.url.startswith("https://")
    # Plain HTTP (a socket, or TCP without TLS) never handshakes: verify=False
    # only spares httpx loading a CA bundle for each client (~20 ms).
    verify: ssl.SSLContext | bool = _tls_context(host) if uses_tls else False
    if path is not None:
        transport = httpx.AsyncHTTPTransport(uds=path, verify=verify)
        base_url = "http://docker"
    else:
        address = host.tcp_address
        assert address is not None, "supports(host) is checked first"
        transport = httpx.AsyncHTTPTransport(verify=verify)
        base_url = f"{'https' if uses_tls else 'http'}://{address[0]}:{address[1]}"
    # No proxies from the environment: an engine's socket is never proxied.
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url,
        timeout=_TIMEOUT,
        trust_env=False,
        headers={"User-Agent": "launchbay"},
    )


class EngineStreams:
    """One run's streaming connections to one engine (an httpx client bound
    to the event loop that runs it). Each stream is a connection of its own."""

    def __init__(self, host: DockerHost, api_version: str) -> None:
        self.api_version = api_version
        self._client = _client(host)

    async def __aenter__(self) -> EngineStreams:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _path(self, container_id: str, endpoint: str) -> str:
        return f"/v{self.api_version}/containers/{container_id}/{endpoint}"

    async def _send(self, method: str, path: str, params: dict[str, str], **kwargs: Any) -> httpx.Response:
        request = self._client.build_request(method, path, params=params, **kwargs)
        try:
            return await self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise EngineUnreachable(_describe(exc)) from exc
        except httpx.TransportError as exc:
            raise StreamBroken(_describe(exc)) from exc

    async def attach(self, container_id: str) -> ByteStream:
        """Open the container's attach stream (call it before the container
        starts: no byte is missed) and return its raw bytes as they come."""
        params = {"stream": "1", "stdout": "1", "stderr": "1"}
        response = await self._send("POST", self._path(container_id, "attach"), params, headers=_UPGRADE)
        if response.status_code in (101, 200):  # 200: an engine that streams without upgrading
            return ByteStream(response)
        body = await _read_and_close(response)
        raise StreamBroken(f"attach failed: HTTP {response.status_code} {body[:300]!r}")

    async def logs(self, container_id: str, *, follow: bool) -> ByteStream:
        """The container's log from its start (multiplexed like attach), live
        to its end with ``follow``."""
        params = {"stdout": "1", "stderr": "1", "follow": "1" if follow else "0"}
        response = await self._send("GET", self._path(container_id, "logs"), params)
        if response.status_code != 200:
            message = _engine_message(await _read_and_close(response))
            if response.status_code == 404:
                raise ContainerGone(message)
            raise LogUnavailable(f"HTTP {response.status_code}: {message}")
        return ByteStream(response)

    async def pull(
        self, repository: str, tag: str, auth_header: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Pull ``repository:tag`` (``POST /images/create``, with the
        ``X-Registry-Auth`` header given), yielding the engine's progress
        messages as they come. Cancelled (or closed) early, the connection
        goes, and the engine stops the pull."""
        params = {"fromImage": repository, "tag": tag}
        headers = {"X-Registry-Auth": auth_header} if auth_header else {}
        response = await self._send("POST", f"/v{self.api_version}/images/create", params, headers=headers)
        try:
            if response.status_code != 200:
                raise PullRefused(_engine_message(await response.aread()))
            try:
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
            except httpx.TransportError as exc:
                raise StreamBroken(_describe(exc)) from None
        finally:
            await _close(response)


class ByteStream:
    """A streaming response's bytes as they arrive. ``aclose()`` releases
    the connection, whether the stream was read, partly read or not at all."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._response.status_code == 101:
                async for data in self._upgraded():
                    yield data
            else:
                async for data in self._body():
                    yield data
        finally:
            await self.aclose()

    async def _upgraded(self) -> AsyncIterator[bytes]:
        """The raw stream of an upgraded (hijacked) connection, until the
        engine closes it after the container's last write."""
        stream: httpcore.AsyncNetworkStream = self._response.extensions["network_stream"]
        while True:
            try:
                data = await stream.read(_READ)
            except (httpcore.NetworkError, httpcore.TimeoutException, OSError) as exc:
                raise StreamBroken(_describe(exc)) from None
            if not data:
                return
            yield data

    async def _body(self) -> AsyncIterator[bytes]:
        """A response body (chunked, sized, or until close) as it arrives."""
        try:
            async for data in self._response.aiter_raw():
                yield data
        except httpx.TransportError as exc:
            raise StreamBroken(_describe(exc)) from None

    async def aclose(self) -> None:
        await _close(self._response)


async def _read_and_close(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    except httpx.TransportError as exc:
        raise StreamBroken(_describe(exc)) from None
    finally:
        await _close(response)


async def _close(response: httpx.Response) -> None:
    import anyio

    with anyio.CancelScope(shield=True):
        await response.aclose()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _engine_message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", body[:300]))
    except (ValueError, AttributeError):
        return body[:300].decode("utf-8", "replace")
