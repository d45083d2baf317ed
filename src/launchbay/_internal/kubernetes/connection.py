"""Connections to clusters, shared by the runs of one event loop.

Where the configuration comes from (in this order, as SPEC 7.4 says): the job's
stored cluster config (``ClusterInputs.kubeconfig``), else the in-cluster
service account, else the local kubeconfig (``KUBECONFIG`` or
``~/.kube/config``, see ``kubeconfig``). Nothing is loaded into the client
library's global configuration.

Runs on the same event loop that use the same configuration share one
``ClusterConnection``: one HTTP connection pool, one cached cluster UID and one
``NamespaceWatcher`` per namespace. It stays open ``LINGER_SECONDS`` after
its last run ends (as the Docker events stream does), so a program whose runs
follow one another pays for its setup (configuration, TLS, the watches' lists)
once; then it closes, or when the event loop shuts down (asyncio cancels the
waiting task, which closes it).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from launchbay._internal.kubernetes import kubeconfig
from launchbay._internal.kubernetes.api import KubeApi, KubernetesApiError
from launchbay._internal.kubernetes.manifest import ClusterInputs
from launchbay._internal.kubernetes.watcher import NamespaceWatcher
from launchbay.exceptions import InfrastructureError

_IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
# Long-running watches and log streams: a pool large enough for many runs.
_POOL_SIZE = 256
# How long a connection without runs stays open, for the next run.
LINGER_SECONDS = 10.0


@dataclass(frozen=True)
class ConfigSource:
    """Where a cluster's configuration comes from, and a key that is equal
    for equal configurations."""

    kind: Literal["stored", "in-cluster", "kubeconfig"]
    key: str
    description: str
    config: Mapping[str, Any] | None = None
    context: str | None = None
    path: str | None = None


def config_source(cluster: ClusterInputs) -> ConfigSource:
    """The configuration a run uses."""
    if cluster.kubeconfig is not None:
        digest = hashlib.sha256(
            json.dumps([cluster.kubeconfig, cluster.context], sort_keys=True, default=str).encode()
        ).hexdigest()
        return ConfigSource(
            kind="stored",
            key=f"stored:{digest}",
            description=f"the cluster config block (context {cluster.context!r})",
            config=cluster.kubeconfig,
            context=cluster.context,
        )
    if os.environ.get("KUBERNETES_SERVICE_HOST") and Path(_IN_CLUSTER_TOKEN).is_file():
        return ConfigSource(kind="in-cluster", key="in-cluster", description="the in-cluster service account")
    files = kubeconfig.locate()
    if not files.existing:
        raise InfrastructureError(
            f"No Kubernetes configuration found: no kubeconfig at {files.describe()} and not "
            "running in a cluster. Set KUBECONFIG, or give the job a cluster_config "
            "(launchbay block save kubernetes-cluster-config NAME --from-file PATH)."
        )
    contents = hashlib.sha256()
    for file in files.existing:
        contents.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
    path = os.pathsep.join(str(file) for file in files.existing)
    return ConfigSource(
        kind="kubeconfig",
        key=f"kubeconfig:{contents.hexdigest()}",
        description=f"kubeconfig {path}",
        path=path,
    )


async def _load_client(source: ConfigSource) -> aio_client.ApiClient:
    configuration = type.__call__(aio_client.Configuration)  # not a copy of the global default
    try:
        if source.kind == "stored":
            await aio_config.load_kube_config_from_dict(
                config_dict=copy.deepcopy(dict(source.config or {})),
                context=source.context,
                client_configuration=configuration,
            )
        elif source.kind == "in-cluster":
            aio_config.load_incluster_config(client_configuration=configuration)
        else:
            await aio_config.load_kube_config(
                config_file=source.path,
                client_configuration=configuration,
                persist_config=False,
            )
    except (aio_config.ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        raise InfrastructureError(f"Cannot use {source.description}: {exc}") from None
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, _POOL_SIZE)
    if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
        # With trust_env, aiohttp looks up .netrc and proxy variables in a
        # worker thread on every request; without proxy variables that is
        # pure cost. (A kubeconfig's proxy-url applies either way.)
        configuration.client_session_kwargs = {"trust_env": False}
    return aio_client.ApiClient(configuration=configuration)


class ClusterConnection:
    """One cluster, as seen from one event loop."""

    def __init__(self, source: ConfigSource) -> None:
        self.source = source
        self.users = 0
        self.generation = 0  # counts the runs that used it: a linger ends when another begins
        self._linger: asyncio.Task[None] | None = None
        self._api: KubeApi | None = None
        self._lock = anyio.Lock()
        self._uid_lock = anyio.Lock()
        self._cluster_uid: str | None = None
        self._watchers: dict[str, NamespaceWatcher] = {}

    @property
    def api(self) -> KubeApi:
        assert self._api is not None, "connection not opened"
        return self._api

    async def open(self) -> None:
        async with self._lock:
            if self._api is None:
                self._api = KubeApi(await _load_client(self.source))

    async def aclose(self) -> None:
        for watcher in self._watchers.values():
            await watcher.aclose()
        self._watchers.clear()
        if self._api is not None:
            await self._api.close()
            self._api = None

    def enter(self) -> None:
        self.users += 1
        self.generation += 1
        if self._linger is not None:
            self._linger.cancel()  # it sees the new generation and leaves the connection open
            self._linger = None

    def leave(self, forget: Callable[[], None]) -> None:
        """The run is over: the connection lingers, then closes (``forget``
        takes it out of the loop's connections first) unless another run came."""
        self.users -= 1
        if self.users == 0:
            self._linger = asyncio.get_running_loop().create_task(self._close_when_idle(forget))

    async def _close_when_idle(self, forget: Callable[[], None]) -> None:
        generation = self.generation
        try:
            await asyncio.sleep(LINGER_SECONDS)
        finally:
            # Also when cancelled by the loop shutting down.
            if self.users == 0 and self.generation == generation:
                forget()
                await self.aclose()

    def watcher(self, namespace: str) -> NamespaceWatcher:
        """The shared watcher of ``namespace``."""
        watcher = self._watchers.get(namespace)
        if watcher is None:
            watcher = self._watchers[namespace] = NamespaceWatcher(self.api, namespace)
        return watcher

    async def cluster_uid(self) -> str:
        """The UID of the ``kube-system`` namespace (read once per connection)."""
        async with self._uid_lock:  # concurrent runs read it once
            if self._cluster_uid is None:
                self._cluster_uid = await self._read_cluster_uid()
        return self._cluster_uid

    async def _read_cluster_uid(self) -> str:
        try:
            namespace = await self.api.request("GET", "/api/v1/namespaces/kube-system", what="GET namespace")
        except KubernetesApiError as exc:
            raise InfrastructureError(
                f"Cannot read the cluster UID (the kube-system namespace's) from "
                f"{self.api.host}: {exc}. Set LAUNCHBAY_KUBERNETES_CLUSTER_UID to a "
                "value that identifies this cluster."
            ) from None
        return str((namespace.get("metadata") or {}).get("uid") or "")


_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ClusterConnection]] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def open_connection(source: ConfigSource) -> AsyncIterator[ClusterConnection]:
    """The loop's shared connection for ``source``; closed ``LINGER_SECONDS``
    after its last user."""
    loop = asyncio.get_running_loop()
    connections = _connections.setdefault(loop, {})
    connection = connections.get(source.key)
    if connection is None:
        connection = connections[source.key] = ClusterConnection(source)
    connection.enter()

    def forget() -> None:
        if connections.get(source.key) is connection:
            del connections[source.key]

    try:
        await connection.open()
        yield connection
    finally:
        connection.leave(forget)
