"""What a ``DockerContainer`` run creates, built without an engine.

``build_spec`` turns the block's values, the platform and the engine's version
into a frozen ``ContainerSpec``: the image and when to pull it, the name, the
body of ``POST /containers/create`` (environment with the API URL rewritten,
labels, mounts, limits and resources, network mode, extra hosts), the networks
connected before start and the run's timeout. ``preview()`` prints it (with
passwords in the environment masked); the runner sends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from launchbay._internal import urls
from launchbay._internal.docker import labels as docker_labels
from launchbay._internal.docker import names, networking, resources
from launchbay._internal.docker.images import ImagePullPolicy, default_pull_policy
from launchbay._internal.docker.memory import parse_bytes
from launchbay._internal.fields import RunFields


class ContainerFields(RunFields, Protocol):
    """The block's values a spec is built from (``DockerContainer`` has them),
    beyond those of every run."""

    @property
    def image(self) -> str: ...
    @property
    def image_pull_policy(self) -> ImagePullPolicy | None: ...
    @property
    def networks(self) -> list[str]: ...
    @property
    def network_mode(self) -> str | None: ...
    @property
    def auto_remove(self) -> bool: ...
    @property
    def volumes(self) -> list[str]: ...
    @property
    def mem_limit(self) -> float | str | None: ...
    @property
    def memswap_limit(self) -> int | str | None: ...
    @property
    def privileged(self) -> bool: ...
    @property
    def cpus(self) -> float | None: ...
    @property
    def shm_size(self) -> int | str | None: ...
    @property
    def gpus(self) -> int | Literal["all"] | None: ...
    @property
    def user(self) -> str | None: ...


@dataclass(frozen=True)
class ContainerSpec:
    """Everything sent to the engine for one run (frozen: built once, then
    only read)."""

    image: str
    pull_policy: ImagePullPolicy
    name: str | None  # None: the engine picks one
    command: tuple[str, ...] | None  # None: the image's own
    env: tuple[str, ...]  # KEY=VALUE
    labels: tuple[tuple[str, str], ...]
    binds: tuple[str, ...]
    memory: int | None
    memory_swap: int | None
    privileged: bool
    auto_remove: bool
    network_mode: str | None  # HostConfig.NetworkMode
    endpoint_network: str | None  # the first of ``networks``, given at creation
    connect_networks: tuple[str, ...]  # the others, connected after creation, before start
    extra_hosts: tuple[str, ...]
    mem_limit: float | str | None  # as the user wrote it, for messages
    warnings: tuple[str, ...]  # configuration warnings for the user (SPEC 8)
    nano_cpus: int | None = None  # HostConfig.NanoCpus (billionths of a CPU)
    shm_size: int | None = None  # HostConfig.ShmSize (bytes)
    gpus: int | Literal["all"] | None = None  # a device request for GPUs
    user: str | None = None
    timeout_seconds: float | None = None  # stopped once it has run this long

    def create_body(self) -> dict[str, Any]:
        """The body of ``POST /containers/create`` (a new dict each call)."""
        host_config: dict[str, Any] = {"AutoRemove": self.auto_remove, "Privileged": self.privileged}
        if self.binds:
            host_config["Binds"] = list(self.binds)
        if self.memory is not None:
            host_config["Memory"] = self.memory
        if self.memory_swap is not None:
            host_config["MemorySwap"] = self.memory_swap
        if self.nano_cpus is not None:
            host_config["NanoCpus"] = self.nano_cpus
        if self.shm_size is not None:
            host_config["ShmSize"] = self.shm_size
        if self.gpus is not None:
            host_config["DeviceRequests"] = [resources.gpu_request(self.gpus)]
        if self.network_mode:
            host_config["NetworkMode"] = self.network_mode
        if self.extra_hosts:
            host_config["ExtraHosts"] = list(self.extra_hosts)
        body: dict[str, Any] = {"Image": self.image}
        if self.command is not None:
            body["Cmd"] = list(self.command)
        if self.user is not None:
            body["User"] = self.user
        body["Env"] = list(self.env)
        body["Labels"] = dict(self.labels)
        body["HostConfig"] = host_config
        if self.endpoint_network:
            body["NetworkingConfig"] = {"EndpointsConfig": {self.endpoint_network: {}}}
        return body

    def preview(self) -> dict[str, Any]:
        """What ``DockerContainer.preview()`` prints: the request as it will be
        sent, except that passwords in the environment are masked."""
        config = self.create_body()
        config["Env"] = [urls.redact_text(entry) for entry in config["Env"]]
        return {
            "image_pull_policy": self.pull_policy.value,
            "name": self.name,
            "config": config,
            "connect_networks": list(self.connect_networks),
            "timeout_seconds": self.timeout_seconds,
        }


def api_url_of(env: Mapping[str, str | None], settings_api_url: str | None) -> networking.ApiUrl:
    """The API URL the container is given: the block's ``env`` wins over the settings."""
    if urls.API_URL_ENV in env:
        return networking.ApiUrl(env[urls.API_URL_ENV], from_env=True)
    return networking.ApiUrl(settings_api_url, from_env=False)


def build_spec(
    fields: ContainerFields,
    *,
    base_environment: Mapping[str, str],
    settings_api_url: str | None,
    platform: str,
    engine_version: str | None,
) -> ContainerSpec:
    """The spec of one run. ``engine_version`` None assumes an engine recent
    enough for ``host-gateway`` (a preview does not ask the engine)."""
    api_url = api_url_of(fields.env, settings_api_url)
    mode, mode_warning = networking.network_mode(fields.network_mode, fields.networks, api_url, platform)
    endpoint_network: str | None = None
    connect_networks: Sequence[str] = ()
    if not mode and fields.networks:
        # Like `docker run --network`: the first network at creation, the others before start.
        endpoint_network, *connect_networks = fields.networks
        mode = endpoint_network
    hosts, hosts_warning = networking.extra_hosts(api_url, engine_version, mode, platform)

    env: dict[str, str | None] = {**base_environment, **fields.env}
    rewritten = networking.rewrite_api_url(api_url, mode)
    if rewritten is not None:
        env[urls.API_URL_ENV] = rewritten
    warnings = (networking.api_url_warning(api_url), mode_warning, hosts_warning)
    return ContainerSpec(
        image=fields.image,
        pull_policy=fields.image_pull_policy or default_pull_policy(fields.image),
        name=names.slugify_container_name(fields.name),
        command=tuple(fields.command) if fields.command else None,
        env=tuple(f"{key}={value}" for key, value in env.items() if value is not None),
        labels=tuple(docker_labels.container_labels(fields.labels).items()),
        binds=tuple(fields.volumes),
        memory=parse_bytes(fields.mem_limit) if fields.mem_limit is not None else None,
        memory_swap=(
            parse_bytes(fields.memswap_limit, allow_unlimited=True)
            if fields.memswap_limit is not None
            else None
        ),
        privileged=fields.privileged,
        auto_remove=fields.auto_remove,
        network_mode=mode,
        endpoint_network=endpoint_network,
        connect_networks=tuple(connect_networks),
        extra_hosts=hosts,
        mem_limit=fields.mem_limit,
        warnings=tuple(warning for warning in warnings if warning),
        nano_cpus=resources.nano_cpus(fields.cpus) if fields.cpus is not None else None,
        shm_size=resources.shm_bytes(fields.shm_size) if fields.shm_size is not None else None,
        gpus=fields.gpus,
        user=fields.user,
        timeout_seconds=fields.timeout_seconds,
    )
