"""Raw, asynchronous access to the Kubernetes API.

launchbay talks JSON to the few endpoints it needs (jobs, pods, pod logs,
namespaces) through the official asyncio client's transport
(``kubernetes.aio``: its configuration loading, TLS, authentication and
connection pool), but not through the generated per-endpoint methods, which
cannot do what a run needs:

- the pod log method has no ``sinceTime`` (only whole seconds, relative), so a
  dropped log stream could not resume without repeating or losing lines;
- their pydantic validation rejects a job manifest with any field the models
  do not know (a newer Kubernetes field, a typo the API server should report);
- a per-request timeout is a total one (default five minutes): no connect
  timeout, no read timeout on a long stream, and a followed log cut every
  few minutes.

So ``_send`` uses two methods of ``ApiClient`` that the generated code calls
(``param_serialize``: URL, query and authentication headers, refreshed
tokens included; ``rest_client.request``: the configured session), and
``pyproject.toml`` pins ``kubernetes`` to the major version tested
(docs/kubernetes.md, "The client library"). Streams (watches, logs) run on
the event loop: no thread per run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
from kubernetes.aio.client import ApiClient

from launchbay._internal.retry import Backoff

CONNECT_TIMEOUT_SECONDS = 15
REQUEST_TIMEOUT_SECONDS = 60
FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 5.0
# HTTP statuses worth retrying: the server is restarting, overloaded or throttling.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)

# Every request launchbay sends, by "METHOD what" (for diagnostics and the
# request-count measurements in the tests).
request_counts: Counter[str] = Counter()


class KubernetesApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUSES


def error_from_body(status: int, body: bytes, fallback_reason: str = "") -> KubernetesApiError:
    """The error a ``Status`` body (or any body) describes."""
    reason, message = fallback_reason, ""
    try:
        document = json.loads(body)
    except ValueError:
        message = body.decode("utf-8", "replace").strip()[:500]
    else:
        if isinstance(document, dict):
            reason = str(document.get("reason") or reason)
            message = str(document.get("message") or "")
    return KubernetesApiError(status, reason, message)


# A restarted API server answers 401 and 403 until its authentication and
# RBAC caches are synced (a second or so; longer on a busy server).
AUTH_SETTLE_SECONDS = 60.0
SETTLING_STATUSES = frozenset({401, 403})


class AuthSettling:
    """Tells a refusal (401/403) that a restarted API server gives while its
    caches sync from a real one: a stream that has worked before is retried
    through such refusals for up to ``AUTH_SETTLE_SECONDS``; one that never
    worked (no right to watch, a bad token) fails at once."""

    def __init__(self, settle_seconds: float = AUTH_SETTLE_SECONDS) -> None:
        self.settle_seconds = settle_seconds
        self.worked = False
        self._refused_since: float | None = None

    def success(self) -> None:
        self.worked = True
        self._refused_since = None

    def tolerates(self, error: BaseException) -> bool:
        if not (isinstance(error, KubernetesApiError) and error.status in SETTLING_STATUSES):
            return False
        if not self.worked:
            return False
        now = time.monotonic()
        if self._refused_since is None:
            self._refused_since = now
        return now - self._refused_since < self.settle_seconds


def is_transient(error: BaseException) -> bool:
    if isinstance(error, KubernetesApiError):
        return error.transient
    return isinstance(error, TRANSIENT_ERRORS)


def describe_error(error: BaseException) -> str:
    """One line for a log or a message, never a traceback."""
    if isinstance(error, KubernetesApiError):
        return str(error)
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


class KubeApi:
    """JSON requests and streams against one cluster."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.host: str = client.configuration.host

    async def close(self) -> None:
        await self.client.close()

    async def _send(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] | None,
        body: Mapping[str, Any] | None,
        timeout: aiohttp.ClientTimeout,
        what: str,
    ) -> aiohttp.ClientResponse:
        method, url, headers, serialized, _ = await self.client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query or []),
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        request_counts[what] += 1
        response = await self.client.rest_client.request(
            method, url, headers=headers, body=serialized, _request_timeout=timeout
        )
        raw: aiohttp.ClientResponse = response.response
        return raw

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Iterable[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        retry_for: float = 0,
    ) -> dict[str, Any]:
        """One request; the decoded JSON answer. ``retry_for`` seconds of
        retries on transient failures (only for idempotent requests)."""
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS, sock_connect=CONNECT_TIMEOUT_SECONDS)
        deadline = anyio.current_time() + retry_for
        backoff = Backoff(FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS)
        while True:
            try:
                response = await self._send(method, path, query, body, timeout, what)
                async with response:
                    data = await response.read()
                if response.status >= 400:
                    raise error_from_body(response.status, data, response.reason or "")
                answer: dict[str, Any] = json.loads(data) if data else {}
                return answer
            except BaseException as exc:
                if not is_transient(exc) or anyio.current_time() + backoff.peek() > deadline:
                    raise
            await anyio.sleep(backoff.next())

    @asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        what: str,
        query: Iterable[tuple[str, str]] | None = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A streaming GET (watch, log); the response body is read by the caller.
        Raises ``KubernetesApiError`` for an error status."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=read_timeout
        )
        response = await self._send("GET", path, query, None, timeout, what)
        try:
            if response.status >= 400:
                data = await response.read()
                raise error_from_body(response.status, data, response.reason or "")
            yield response
        finally:
            response.close()  # an unfinished stream cannot go back to the pool
