"""Connecting to a Docker Engine: where it is, its versions, one client per
engine per process, and errors a user can act on.

The engine is found as the Docker CLI finds it: ``DOCKER_HOST`` (with
``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``), else the current Docker context,
else the local socket. Its address, written like ``DOCKER_HOST``
(``unix:///var/run/docker.sock``, ``tcp://host:2376``, ``ssh://user@host``), is
the "base URL" of infrastructure pids: ``<base url>:<container id>``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from launchbay._internal.docker.engine_version import version_tuple
from launchbay.exceptions import InfrastructureError

if TYPE_CHECKING:
    import docker

DEFAULT_LOCAL_HOST = "unix:///var/run/docker.sock"
DEFAULT_WINDOWS_HOST = "npipe:////./pipe/docker_engine"
# Ordinary API calls; streams (events, attach, logs) have no timeout.
REQUEST_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class EngineInfo:
    """What ``GET /version`` says, fetched once per engine per process."""

    engine_version: str
    api_version: str  # negotiated: the engine's, capped at what docker-py knows


@dataclass(frozen=True)
class DockerHost:
    """Where an engine is, and how to reach it."""

    url: str  # DOCKER_HOST form, the base URL of infrastructure pids
    params: tuple[tuple[str, Any], ...]  # docker-py client arguments (base_url, tls)

    @property
    def key(self) -> str:
        """What identifies the engine for comparison (a pid from another engine
        cannot be reached with this configuration)."""
        return normalize_host_url(self.url)

    @property
    def cache_key(self) -> tuple[str, ...]:
        """Same engine reached the same way (TLS objects compare by identity)."""
        tls = self.tls
        if not tls:
            return (self.key,)
        return (
            self.key,
            repr(getattr(tls, "ca_cert", None)),
            repr(getattr(tls, "cert", None)),
            repr(getattr(tls, "verify", None)),
        )

    @property
    def tls(self) -> Any:
        return dict(self.params).get("tls")

    @property
    def unix_socket_path(self) -> str | None:
        if self.url.startswith("unix://"):
            return self.url[len("unix://") :]
        return None

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        if not self.url.startswith(("tcp://", "http://", "https://")):
            return None
        parts = urlsplit(self.url)
        default_port = 2376 if self.tls else 2375
        return parts.hostname or "localhost", parts.port or default_port


def normalize_host_url(url: str) -> str:
    """A canonical spelling of an engine URL: ``http+unix://`` and ``unix://``
    agree, a socket path is resolved (``/var/run`` links to ``/run``), a TCP
    host is lower-cased with its default port."""
    url = url.strip()
    if url.startswith("http+unix://"):
        url = "unix://" + url[len("http+unix://") :]
    if url.startswith("unix://"):
        path = url[len("unix://") :] or "/var/run/docker.sock"
        return "unix://" + os.path.realpath(path)
    if url.startswith(("tcp://", "http://", "https://")):
        parts = urlsplit(url)
        port = parts.port or (2376 if parts.scheme == "https" else 2375)
        return f"tcp://{(parts.hostname or 'localhost').lower()}:{port}"
    return url.rstrip("/")


def resolve_host(environment: dict[str, str] | None = None) -> DockerHost:
    """Where the Docker settings in the environment point."""
    from docker.utils import kwargs_from_env

    environment = dict(os.environ if environment is None else environment)
    try:
        params = kwargs_from_env(environment=environment)
    except Exception as exc:  # e.g. unreadable certificates
        raise InfrastructureError(f"Invalid Docker settings in the environment: {exc}") from None
    if "base_url" not in params:
        params.update(_context_params(environment))
    url = params.get("base_url") or (DEFAULT_WINDOWS_HOST if os.name == "nt" else DEFAULT_LOCAL_HOST)
    if url.startswith("http+unix://"):
        url = "unix://" + url[len("http+unix://") :]
    params["base_url"] = url
    return DockerHost(url=url, params=tuple(sorted(params.items())))


def _context_params(environment: dict[str, str]) -> dict[str, Any]:
    """The current Docker CLI context's engine (DOCKER_CONTEXT or config.json),
    as the CLI would use it when DOCKER_HOST is unset."""
    try:
        from docker.context import ContextAPI

        return dict(ContextAPI.kwargs_from_context(environment=environment) or {})
    except Exception:
        return {}


# --- one client per engine per process ---------------------------------------

_lock = threading.Lock()
_engine_info: dict[str, EngineInfo] = {}
_clients: dict[tuple[str, ...], docker.DockerClient] = {}


# Connections a client keeps to its engine: one per worker thread that may
# call it at once (anyio's default limit is 40).
POOL_SIZE = 40


def _new_client(host: DockerHost, api_version: str, timeout: int | None) -> docker.DockerClient:
    import docker

    try:
        client = docker.DockerClient(
            version=api_version, timeout=timeout, max_pool_size=POOL_SIZE, **dict(host.params)
        )
    except docker.errors.DockerException as exc:
        raise connection_error(host, exc) from None
    _one_pool_per_socket(client)
    return client


def _one_pool_per_socket(client: docker.DockerClient) -> None:
    """docker-py keys a unix socket's connection pools by each request's whole
    URL, so every container's URLs get a pool of their own, and past 25 pools
    the least recently used is closed, even under another thread's request
    (urllib3 then fails on its closed pool). Concurrent runs crash that way
    and reuse no connection. One pool for the socket, as requests keeps per
    host for TCP."""
    from docker.transport import UnixHTTPAdapter

    adapter = client.api.adapters.get("http+docker://")
    if not isinstance(adapter, UnixHTTPAdapter):
        return
    per_url = adapter.get_connection

    def get_connection(url: str, proxies: Any = None) -> Any:
        return per_url("http+docker://localhost", proxies)

    adapter.get_connection = get_connection


def engine_info(host: DockerHost) -> EngineInfo:
    """The engine's versions (one unversioned ``GET /version``, then cached)."""
    cached = _engine_info.get(host.key)
    if cached is not None:
        return cached
    from docker.constants import DEFAULT_DOCKER_API_VERSION, MINIMUM_DOCKER_API_VERSION

    probe = _new_client(host, MINIMUM_DOCKER_API_VERSION, REQUEST_TIMEOUT_SECONDS)
    try:
        with translate_connection_errors(host):
            version = probe.api.version(api_version=False)
    finally:
        probe.close()
    server_api = str(version.get("ApiVersion") or MINIMUM_DOCKER_API_VERSION)
    api_version = min(server_api, DEFAULT_DOCKER_API_VERSION, key=version_tuple)
    info = EngineInfo(engine_version=str(version.get("Version") or ""), api_version=api_version)
    _engine_info[host.key] = info
    return info


def shared_client(host: DockerHost) -> docker.DockerClient:
    """This process's client for ``host`` (its connection pool is shared by
    every run on that engine)."""
    with _lock:
        client = _clients.get(host.cache_key)
    if client is not None:
        return client
    info = engine_info(host)
    client = _new_client(host, info.api_version, REQUEST_TIMEOUT_SECONDS)
    with _lock:
        return _clients.setdefault(host.cache_key, client)


def new_client(host: DockerHost, *, timeout: int | None = REQUEST_TIMEOUT_SECONDS) -> docker.DockerClient:
    """A client of its own (for a registry login, or a long-lived stream)."""
    return _new_client(host, engine_info(host).api_version, timeout)


# --- errors -----------------------------------------------------------------------


def connection_error(host: DockerHost, exc: BaseException) -> InfrastructureError:
    return InfrastructureError(
        f"Could not connect to Docker at {host.url}: {_short_cause(host, exc)}. "
        "Start the Docker Engine, or point launchbay at a running one with "
        "DOCKER_HOST (for example DOCKER_HOST=unix:///var/run/docker.sock, or "
        "tcp://HOST:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)."
    )


def _short_cause(host: DockerHost, exc: BaseException) -> str:
    text = str(exc)
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
        if current is None and chain[-1].args and isinstance(chain[-1].args[0], BaseException):
            current = chain[-1].args[0]
    for error in chain:
        if isinstance(error, FileNotFoundError) or "No such file or directory" in str(error):
            return f"no engine socket at {host.unix_socket_path or host.url}"
        if isinstance(error, PermissionError) or "Permission denied" in str(error):
            return (
                f"permission denied on {host.unix_socket_path or host.url} "
                "(run as a member of the 'docker' group, or as root)"
            )
        if isinstance(error, ConnectionRefusedError) or "Connection refused" in str(error):
            return "connection refused"
    if "timed out" in text.lower():
        return "the connection timed out"
    return text.splitlines()[0][:300] if text else type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "the engine could not be reached" (as opposed to
    an answer from the engine)."""
    import requests

    return isinstance(
        exc, (requests.exceptions.ConnectionError, ConnectionError, requests.exceptions.Timeout)
    )


@contextmanager
def translate_connection_errors(host: DockerHost) -> Iterator[None]:
    """Turn "cannot reach the engine" from docker-py/requests into a clear
    ``InfrastructureError``; everything else passes through."""
    import docker

    try:
        yield
    except Exception as exc:
        if is_connection_error(exc) or (
            isinstance(exc, docker.errors.DockerException)
            and not isinstance(exc, docker.errors.APIError)
            and "Connection" in str(exc)
        ):
            raise connection_error(host, exc) from None
        raise
