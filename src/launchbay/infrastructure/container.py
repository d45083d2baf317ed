"""``DockerContainer``: run the command in a Docker container.

docker-py is imported on first use (run, kill, attach), never at import time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import anyio
from anyio.abc import TaskStatus
from pydantic import Field, field_validator

from launchbay._internal.docker import exits, labels, names, networking
from launchbay._internal.docker.images import ImagePullPolicy, default_pull_policy
from launchbay._internal.docker.memory import parse_bytes
from launchbay._internal.images import default_image
from launchbay.blocks.docker import DockerRegistry
from launchbay.exceptions import (
    InfrastructureError,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
)
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult
from launchbay.settings import get_current_settings

if TYPE_CHECKING:
    import docker

    from launchbay._internal.docker.connection import DockerHost
    from launchbay._internal.docker.events import ContainerExit

__all__ = ["DockerContainer", "DockerContainerResult", "ImagePullPolicy"]

T = TypeVar("T")

# How long a cancelled run (Ctrl+C, a cancelled task group) lets its container
# stop on SIGTERM before the engine kills it.
CANCEL_GRACE_SECONDS = 10
# Name conflicts retry with -1, -2, ... up to this many times.
MAX_NAME_ATTEMPTS = 1000


class DockerContainerResult(InfrastructureResult):
    """The result of a ``DockerContainer`` run: the container's exit code, and
    ``reason`` ``OOMKilled`` or the signal (``SIGKILL``...) when it died so."""


@dataclass
class ContainerSettings:
    """Everything sent to the engine to create the container."""

    name: str | None
    config: dict[str, Any]  # the body of POST /containers/create
    connect_networks: list[str] = field(default_factory=list)  # after creation, before start


class DockerContainer(Infrastructure):
    """Run a command in a new Docker container."""

    _block_type_name: ClassVar[str] = "Docker Container"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/infrastructure/docker-container"

    type: Literal["docker-container"] = Field(
        default="docker-container", description="The kind of infrastructure."
    )
    image: str = Field(
        default_factory=default_image,
        description="The image: [registry[:port]/]repository[:tag][@digest].",
    )
    image_pull_policy: ImagePullPolicy | None = Field(
        default=None,
        description="ALWAYS, NEVER or IF_NOT_PRESENT. Unset: ALWAYS for a 'latest' or "
        "missing tag, IF_NOT_PRESENT otherwise.",
    )
    image_registry: DockerRegistry | None = Field(
        default=None, description="Registry to log in to when the image must be pulled."
    )
    networks: list[str] = Field(default_factory=list, description="Networks to connect the container to.")
    network_mode: str | None = Field(
        default=None,
        description="Docker network mode; unset: 'host' on Linux when the API URL is local.",
    )
    auto_remove: bool = Field(default=False, description="Remove the container when it exits.")
    volumes: list[str] = Field(
        default_factory=list,
        description="Volumes as 'path:container_path' (or 'volume:container_path[:ro]').",
    )
    stream_output: bool = Field(default=True, description="Relay the container's output to ours.")
    memswap_limit: int | str | None = Field(
        default=None,
        description="Total memory plus swap (bytes or '1g'); -1 allows unlimited swap.",
    )
    mem_limit: float | str | None = Field(default=None, description="Memory limit (bytes or '512m').")
    privileged: bool = Field(default=False, description="Give the container extended privileges.")

    # --- validation ---------------------------------------------------------

    @field_validator("volumes")
    @classmethod
    def _check_volumes(cls, volumes: list[str]) -> list[str]:
        for volume in volumes:
            if ":" not in volume:
                raise ValueError(
                    f"Invalid volume specification {volume!r}: expected the format "
                    "'path:container_path' (for example '/data:/data', or "
                    "'my-volume:/data:ro')."
                )
        return volumes

    @field_validator("mem_limit")
    @classmethod
    def _check_mem_limit(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            parse_bytes(value)
        return value

    @field_validator("memswap_limit")
    @classmethod
    def _check_memswap_limit(cls, value: int | str | None) -> int | str | None:
        if value is not None:
            parse_bytes(value, allow_unlimited=True)
        return value

    # --- what would be created ------------------------------------------------

    def _api_url(self) -> networking.ApiUrl:
        if networking.API_URL_ENV in self.env:
            return networking.ApiUrl(self.env[networking.API_URL_ENV], from_env=True)
        return networking.ApiUrl(get_current_settings().api_url, from_env=False)

    def _environment(self, api_url: networking.ApiUrl, mode: str | None) -> dict[str, str]:
        env: dict[str, str | None] = {**self._base_environment(), **self.env}
        rewritten = networking.rewrite_api_url(api_url, mode)
        if rewritten is not None:
            env[networking.API_URL_ENV] = rewritten
        return {key: value for key, value in env.items() if value is not None}

    def _pull_policy(self) -> ImagePullPolicy:
        return self.image_pull_policy or default_pull_policy(self.image)

    def _container_settings(self, engine_version: str | None = None) -> ContainerSettings:
        """The creation request. ``engine_version`` None assumes an engine
        recent enough for ``host-gateway`` (a preview does not ask the engine)."""
        api_url = self._api_url()
        mode = networking.network_mode(self.network_mode, self.networks, api_url)
        host_config: dict[str, Any] = {
            "AutoRemove": self.auto_remove,
            "Privileged": self.privileged,
        }
        if self.volumes:
            host_config["Binds"] = list(self.volumes)
        if self.mem_limit is not None:
            host_config["Memory"] = parse_bytes(self.mem_limit)
        if self.memswap_limit is not None:
            host_config["MemorySwap"] = parse_bytes(self.memswap_limit, allow_unlimited=True)
        config: dict[str, Any] = {
            "Image": self.image,
            "Cmd": list(self.command) if self.command else None,
            "Env": [f"{key}={value}" for key, value in self._environment(api_url, mode).items()],
            "Labels": labels.container_labels(self.labels),
            "HostConfig": host_config,
        }
        if config["Cmd"] is None:
            del config["Cmd"]
        connect_networks: list[str] = []
        if mode:
            host_config["NetworkMode"] = mode
        elif self.networks:
            # Like `docker run --network`: the first network at creation...
            first, *connect_networks = self.networks
            host_config["NetworkMode"] = first
            config["NetworkingConfig"] = {"EndpointsConfig": {first: {}}}
        extra_hosts = networking.extra_hosts(api_url, engine_version, host_config.get("NetworkMode"))
        if extra_hosts:
            host_config["ExtraHosts"] = extra_hosts
        return ContainerSettings(
            name=names.slugify_container_name(self.name),
            config=config,
            connect_networks=connect_networks,  # ...the others before start
        )

    def preview(self) -> str:
        """JSON of the creation request (POST /containers/create), the pull
        policy, and the networks connected before start. Nothing is contacted."""
        settings = self._container_settings()
        return json.dumps(
            {
                "image_pull_policy": self._pull_policy().value,
                "name": settings.name,
                "config": settings.config,
                "connect_networks": settings.connect_networks,
            },
            indent=2,
        )

    # --- running ----------------------------------------------------------------

    async def _run(self, task_status: TaskStatus[str]) -> DockerContainerResult:
        from launchbay._internal.docker.connection import engine_info
        from launchbay._internal.docker.events import watcher_for
        from launchbay._internal.docker.monitor import follow_container
        from launchbay._internal.docker.output import ContainerOutput

        host, client = await _connect()
        info = engine_info(host)  # cached by _connect
        settings = self._container_settings(info.engine_version)
        policy = self._pull_policy()
        if policy is ImagePullPolicy.ALWAYS:
            await self._pull(host)
        container_id, name = await self._create(host, client, settings, policy)
        display = repr(name) if name else container_id[:12]
        self.logger.info("Docker container %s has status 'created'", display)

        subscription = watcher_for(host).subscribe(container_id)
        output: ContainerOutput | None = None
        attach_body: AsyncIterator[bytes] | None = None
        try:
            for network in settings.connect_networks:
                await _call(host, client.api.connect_container_to_network, container_id, network)
            if self.stream_output:
                output = ContainerOutput(host, info.api_version, container_id)
                attach_body = await _attach_output(output, display)  # before start: no byte missed
            connection = await subscription.wait_live()
            await _call(host, client.api.start, container_id, error_exit_code=_start_exit_code)
        except BaseException:
            with anyio.CancelScope(shield=True):
                subscription.close()
                if attach_body is not None:
                    await attach_body.aclose()  # type: ignore[attr-defined]
                await _remove_quietly(client, container_id)
            raise
        self.logger.info("Docker container %s has status 'running'", display)
        identifier = f"{host.url}:{container_id}"
        task_status.started(identifier)
        try:
            exit_ = await follow_container(
                client, subscription, connection, output, attach_body, auto_remove=self.auto_remove
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
                    self.logger.warning("Run cancelled: stopping Docker container %s", display)
                else:
                    self.logger.warning("Run failed (%s): stopping Docker container %s", exc, display)
                await _stop_and_drain(client, container_id, output)
            raise
        finally:
            subscription.close()
            if output is not None:
                output.finish()
        return self._result(identifier, display, exit_)

    async def _pull(self, host: DockerHost) -> None:
        """Pull the image; with ``image_registry``, through its logged-in client
        (so logging in happens only when a pull is needed)."""
        from launchbay._internal.docker.connection import new_client
        from launchbay._internal.docker.pull import pull_image

        self.logger.info("Pulling image %r...", self.image)
        registry = self.image_registry

        def pull() -> None:
            client = registry.get_docker_client() if registry else new_client(host)
            try:
                pull_image(client, self.image, registry)
            finally:
                client.close()

        await _call(host, pull)

    async def _create(
        self,
        host: DockerHost,
        client: docker.DockerClient,
        settings: ContainerSettings,
        policy: ImagePullPolicy,
    ) -> tuple[str, str | None]:
        import docker

        try:
            return await _call(host, _create_with_free_name, client, settings)
        except docker.errors.ImageNotFound:
            if policy is ImagePullPolicy.NEVER:
                raise InfrastructureError(
                    f"Image {self.image!r} is not present on the Docker engine at {host.url}, "
                    "and image_pull_policy is NEVER: build or pull it first, or use "
                    "another pull policy."
                ) from None
            if policy is ImagePullPolicy.ALWAYS:
                raise InfrastructureError(
                    f"Image {self.image!r} was pulled but the engine does not find it (removed meanwhile?)."
                ) from None
        await self._pull(host)
        return await _call(host, _create_with_free_name, client, settings)

    def _result(self, identifier: str, display: str, exit_: ContainerExit | None) -> DockerContainerResult:
        if exit_ is None:
            self.logger.warning(
                "Docker container %s was removed while being watched; its exit code is unknown.",
                display,
            )
            return DockerContainerResult(identifier=identifier, status_code=-1, reason="container removed")
        reason = exits.exit_reason(exit_.status_code, oom_killed=exit_.oom_killed, error=exit_.error)
        self.logger.info("Docker container %s has status 'exited'", display)
        if exit_.status_code != 0 or reason:
            explanation = exits.describe_exit(exit_.status_code, reason, self.mem_limit)
            message = f"Docker container {display} exited with status code: {exit_.status_code}"
            self.logger.error(f"{message}; {explanation}" if explanation else message)
        return DockerContainerResult(identifier=identifier, status_code=exit_.status_code, reason=reason)

    # --- kill and attach ------------------------------------------------------------

    async def _reachable(self, infrastructure_pid: str) -> tuple[DockerHost, docker.DockerClient, str]:
        from launchbay._internal.docker.connection import (
            normalize_host_url,
            resolve_host,
            split_infrastructure_pid,
        )

        base_url, container_id = split_infrastructure_pid(infrastructure_pid)
        host = resolve_host()
        if normalize_host_url(base_url) != host.key:
            raise InfrastructureNotAvailable(
                f"Unable to reach container {container_id[:12]!r}: it runs on the Docker "
                f"engine at {base_url}, and this configuration uses {host.url} "
                "(set DOCKER_HOST to reach the other engine)."
            )
        host, client = await _connect(host)
        return host, client, container_id

    async def _kill(self, infrastructure_pid: str, grace_seconds: int) -> None:
        import docker

        host, client, container_id = await self._reachable(infrastructure_pid)
        try:
            await _call(host, client.api.stop, container_id, timeout=grace_seconds)
        except docker.errors.NotFound:
            raise InfrastructureNotFound(
                f"Unable to stop container {container_id[:12]!r}: it was not found on the "
                f"Docker engine at {host.url}."
            ) from None

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> DockerContainerResult:
        """Resume following a container started elsewhere (by another, possibly
        dead, launchbay process): its output from the start, then live, and its
        exit code."""
        from launchbay._internal.docker.connection import engine_info
        from launchbay._internal.docker.events import (
            ContainerExit,
            engine_time_nano,
            is_finished,
            watcher_for,
        )
        from launchbay._internal.docker.monitor import follow_container
        from launchbay._internal.docker.output import ContainerOutput

        host, client, container_id = await self._reachable(infrastructure_pid)
        subscription = watcher_for(host).subscribe(container_id)
        try:
            connection = await subscription.wait_live()
            details = await _call(host, _inspect_or_none, client, container_id)
            if details is None:
                raise InfrastructureNotFound(
                    f"Container {container_id[:12]!r} was not found on the Docker engine at {host.url}."
                )
            name = str(details.get("Name") or "").lstrip("/")
            display = repr(name) if name else container_id[:12]
            state = details.get("State") or {}
            if not is_finished(state):
                # Events replayed from before this start are of an earlier life.
                subscription.forget_before(engine_time_nano(str(state.get("StartedAt") or "")))
                self.logger.info("Docker container %s has status %r", display, state.get("Status"))
            task_status.started(infrastructure_pid)
            output = None
            if self.stream_output:
                tty = bool((details.get("Config") or {}).get("Tty"))
                output = ContainerOutput(host, engine_info(host).api_version, container_id, tty=tty)
            try:
                if is_finished(state):
                    exit_: ContainerExit | None = ContainerExit.from_state(state)
                    # The engine's flag can miss an OOM kill its events reported.
                    subscription.forget_before(engine_time_nano(str(state.get("StartedAt") or "")))
                    if subscription.oom_killed and not exit_.oom_killed:
                        exit_ = ContainerExit(exit_.status_code, oom_killed=True, error=exit_.error)
                    if output is not None:
                        await _relay_finished_log(output)
                else:
                    exit_ = await follow_container(client, subscription, connection, output)
            finally:
                if output is not None:
                    output.finish()
        finally:
            subscription.close()
        return self._result(infrastructure_pid, display, exit_)


# --- engine calls -----------------------------------------------------------------


async def _connect(host: DockerHost | None = None) -> tuple[DockerHost, docker.DockerClient]:
    from launchbay._internal.docker.connection import resolve_host, shared_client

    host = host or resolve_host()
    client = await anyio.to_thread.run_sync(shared_client, host)
    return host, client


def _start_exit_code(message: str) -> int:
    """Docker's CLI conventions for a command that cannot start."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 125


async def _call(
    host: DockerHost,
    fn: Callable[..., T],
    *args: Any,
    error_exit_code: Callable[[str], int] | None = None,
    **kwargs: Any,
) -> T:
    """A blocking engine call in a worker thread. Unreachable engines and
    refused requests become ``InfrastructureError``s with the engine's message;
    404s (NotFound, ImageNotFound) pass through for the caller to interpret."""
    import docker

    from launchbay._internal.docker.connection import translate_connection_errors

    def call() -> T:
        with translate_connection_errors(host):
            return fn(*args, **kwargs)

    try:
        return await anyio.to_thread.run_sync(call)
    except docker.errors.NotFound:
        raise
    except docker.errors.APIError as exc:
        message = str(exc.explanation or exc)
        code = error_exit_code(message) if error_exit_code else 125
        raise InfrastructureError(f"Docker refused the request: {message}", exit_code=code) from None


def _create_with_free_name(
    client: docker.DockerClient, settings: ContainerSettings
) -> tuple[str, str | None]:
    """Create the container; a taken name retries as ``name-1``, ``name-2``..."""
    import docker

    for attempt in range(MAX_NAME_ATTEMPTS):
        name = names.numbered_name(settings.name, attempt) if settings.name else None
        try:
            created = client.api.create_container_from_config(settings.config, name=name)
            return str(created["Id"]), name
        except docker.errors.APIError as exc:
            conflict = exc.status_code == 409 and "already in use" in str(exc.explanation)
            if name is None or not conflict:
                raise
    raise InfrastructureError(
        f"Could not create container {settings.name!r}: the names {settings.name}-1 to "
        f"{settings.name}-{MAX_NAME_ATTEMPTS - 1} are all taken."
    )


async def _attach_output(output: Any, display: str) -> AsyncIterator[bytes] | None:
    from launchbay._internal.docker.connection import connection_error
    from launchbay._internal.docker.http import StreamBroken

    try:
        return await output.attach()  # type: ignore[no-any-return]
    except OSError as exc:
        raise connection_error(output.host, exc) from None
    except StreamBroken as exc:
        raise InfrastructureError(
            f"Could not attach to the output of Docker container {display}: {exc}"
        ) from None


def _inspect_or_none(client: docker.DockerClient, container_id: str) -> dict[str, Any] | None:
    import docker

    try:
        return client.api.inspect_container(container_id)  # type: ignore[no-any-return]
    except docker.errors.NotFound:
        return None


async def _relay_finished_log(output: Any) -> None:
    from launchbay._internal.docker.http import StreamBroken
    from launchbay._internal.docker.output import LogUnavailable

    try:
        await output.follow_log(follow=False)
    except (LogUnavailable, StreamBroken, OSError) as exc:
        import logging

        logging.getLogger("launchbay.infrastructure.docker-container").warning(
            "Could not read the output of container %s: %s", output.container_id[:12], exc
        )


async def _remove_quietly(client: docker.DockerClient, container_id: str) -> None:
    """Remove a container that was created but could not be started."""

    def remove() -> None:
        try:
            client.api.remove_container(container_id, force=True)
        except Exception:
            pass

    await anyio.to_thread.run_sync(remove)


async def _stop_and_drain(client: docker.DockerClient, container_id: str, output: Any | None) -> None:
    """Stop a cancelled run's container, still relaying what it writes until
    it stops (from its log, skipping what was already relayed)."""
    from launchbay._internal.docker.http import StreamBroken
    from launchbay._internal.docker.output import LogUnavailable

    async def drain() -> None:
        with anyio.move_on_after(CANCEL_GRACE_SECONDS + 5):
            try:
                await output.follow_log(follow=True)
            except (LogUnavailable, StreamBroken, OSError):
                pass

    async with anyio.create_task_group() as task_group:
        if output is not None:
            task_group.start_soon(drain)
        await _stop_quietly(client, container_id, CANCEL_GRACE_SECONDS)


async def _stop_quietly(client: docker.DockerClient, container_id: str, grace: int) -> None:
    def stop() -> None:
        try:
            client.api.stop(container_id, timeout=grace)
        except Exception:
            pass

    await anyio.to_thread.run_sync(stop)
