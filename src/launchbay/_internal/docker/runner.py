"""Running, attaching to and killing Docker containers (SPEC 6 and 12).

``run_container`` takes a frozen ``ContainerSpec`` and returns a neutral
``RunOutcome``: pull when the policy says so, create (a taken name retries as
``name-1``...), connect the other networks, attach to the output *before*
start, start, then follow the container (``monitor``) until the shared events
stream (``events``) reports its exit. A run past its ``timeout_seconds`` is
stopped (``docker stop`` with the grace of the stop request); a cancelled run
stops its container as SPEC 13 says: the stop request's signal, its grace,
then SIGKILL (at once on a second signal).

Cost of one run, in API requests, once the engine's versions are known and its
events stream is open: create, attach (with ``stream_output``) and start; the
exit arrives on the events stream. The first run in a process adds
``GET /version`` (then cached) and the events stream itself.

Ordinary calls (create, start, inspect, stop) go through docker-py in anyio's
worker threads; output streams are read on the event loop (``streams``).
"""

from __future__ import annotations

import functools
import logging
import math
import signal
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import TaskStatus

from launchbay._internal import loggers
from launchbay._internal.docker import exits, names
from launchbay._internal.docker.connection import (
    DockerHost,
    EngineInfo,
    connection_error,
    engine_info,
    new_client,
    normalize_host_url,
    resolve_host,
    shared_client,
    translate_connection_errors,
)
from launchbay._internal.docker.events import watcher_for
from launchbay._internal.docker.images import ImagePullPolicy
from launchbay._internal.docker.monitor import Inspect, follow_container
from launchbay._internal.docker.output import ContainerOutput
from launchbay._internal.docker.progress import PullReporter, reporter_for
from launchbay._internal.docker.pull import pull_credentials, pull_image, pull_image_blocking
from launchbay._internal.docker.spec import ContainerSpec
from launchbay._internal.docker.state import ContainerExit, is_finished, started_at
from launchbay._internal.docker.streams import (
    ByteStream,
    EngineStreams,
    EngineUnreachable,
    LogUnavailable,
    StreamBroken,
    supports,
)
from launchbay._internal.exits import ExitReason
from launchbay._internal.pids import parse_docker_pid
from launchbay._internal.stopping import Escalated, StopRequest, current_stop_request
from launchbay.exceptions import InfrastructureError, InfrastructureNotAvailable, InfrastructureNotFound

if TYPE_CHECKING:
    import docker

    from launchbay._internal.docker.registry import RegistryAccess

T = TypeVar("T")

logger = logging.getLogger(loggers.DOCKER)

# Name conflicts retry with -1, -2, ... up to this many times.
MAX_NAME_ATTEMPTS = 1000
# A stopped run's output is relayed this much longer than its grace.
_DRAIN_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class RunOutcome:
    """How a container's run ended, for the block to wrap in its result."""

    identifier: str  # the infrastructure pid
    status_code: int  # the exit code; -1 when unknown
    reason: str | None  # OOMKilled, a signal's name, the engine's error
    exit_reason: ExitReason


@dataclass(frozen=True)
class Engine:
    """One engine, reached: where it is, this process's client, its versions."""

    host: DockerHost
    client: docker.DockerClient
    info: EngineInfo


async def connect(host: DockerHost | None = None) -> Engine:
    """This process's client of the configured engine (or ``host``); its
    versions are asked once per process."""
    host = host or resolve_host()
    client = await anyio.to_thread.run_sync(shared_client, host)
    return Engine(host, client, engine_info(host))  # cached by shared_client


async def reachable(infrastructure_pid: str) -> tuple[Engine, str]:
    """The engine of a pid and its container id; a pid of another engine
    cannot be reached with this configuration."""
    pid = parse_docker_pid(infrastructure_pid)
    host = resolve_host()
    if normalize_host_url(pid.base_url) != host.key:
        raise InfrastructureNotAvailable(
            f"Unable to reach container {pid.container_id[:12]!r}: it runs on the Docker "
            f"engine at {pid.base_url}, and this configuration uses {host.url} "
            "(set DOCKER_HOST to reach the other engine)."
        )
    return await connect(host), pid.container_id


def _streams(engine: Engine, wanted: bool) -> EngineStreams | None:
    """The event loop's streams to the engine; None without output or on a
    transport httpx does not speak (the output then uses a worker thread)."""
    if not wanted or not supports(engine.host):
        return None
    return EngineStreams(engine.host, engine.info.api_version)


# --- run ------------------------------------------------------------------------------


async def run_container(
    engine: Engine,
    spec: ContainerSpec,
    task_status: TaskStatus[str],
    *,
    stream_output: bool,
    registry: RegistryAccess | None = None,
) -> RunOutcome:
    host, client = engine.host, engine.client
    if spec.pull_policy is ImagePullPolicy.ALWAYS:
        await _pull(engine, spec.image, registry)
    container_id, name = await _create(engine, spec, registry)
    display = repr(name) if name else container_id[:12]
    logger.info("Docker container %s has status 'created'", display)

    async with AsyncExitStack() as resources:
        streams = _streams(engine, stream_output)
        if streams is not None:
            resources.push_async_callback(streams.aclose)
        subscription = watcher_for(host).subscribe(container_id)
        resources.callback(subscription.close)
        output: ContainerOutput | None = None
        attach_body: ByteStream | None = None
        try:
            for network in spec.connect_networks:
                await _call(host, client.api.connect_container_to_network, container_id, network)
            if stream_output:
                output = ContainerOutput(host, streams, container_id)
                resources.callback(output.finish)
                attach_body = await _attach_output(output, display)  # before start: no byte missed
            connection = await subscription.wait_live()
            await _start(host, client, container_id, spec)
        except BaseException:
            with anyio.CancelScope(shield=True):
                if attach_body is not None:
                    await attach_body.aclose()
                await _remove_quietly(client, container_id)
            raise
        logger.info("Docker container %s has status 'running'", display)
        identifier = f"{host.url}:{container_id}"
        task_status.started(identifier)
        inspect = _inspector(client, container_id)
        timer = _Timeout(spec.timeout_seconds, client, container_id, display)
        try:
            exit_ = await follow_container(
                inspect,
                subscription,
                connection,
                output,
                attach_body,
                auto_remove=spec.auto_remove,
                watchdog=timer.stop_when_due if spec.timeout_seconds is not None else None,
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
                    logger.warning("Run cancelled: stopping Docker container %s", display)
                else:
                    logger.warning("Run failed (%s): stopping Docker container %s", exc, display)
                exited = functools.partial(subscription.wait_for_exit, connection, inspect)
                await _stop_and_drain(client, container_id, exited, output, current_stop_request())
            raise
    if timer.fired:
        return _timed_out(identifier, display, exit_, spec.timeout_seconds)
    return _outcome(identifier, display, exit_, spec.mem_limit)


class _Timeout:
    """Stops the container once the run has lasted ``seconds``: ``docker
    stop`` with the stop request's grace (the engine sends the image's stop
    signal, SIGTERM by default, then SIGKILL after the grace)."""

    def __init__(
        self, seconds: float | None, client: docker.DockerClient, container_id: str, display: str
    ) -> None:
        self.seconds = seconds
        self.client = client
        self.container_id = container_id
        self.display = display
        self.fired = False

    async def stop_when_due(self) -> None:
        assert self.seconds is not None
        await anyio.sleep(self.seconds)
        self.fired = True
        grace = current_stop_request().grace_seconds
        logger.warning(
            "Docker container %s has run for %g s (its timeout): stopping it (killed after %g s)",
            self.display,
            self.seconds,
            grace,
        )
        # Not waited for when the run is cancelled meanwhile: the cancellation stops it its own way.
        await anyio.to_thread.run_sync(
            _stop_quietly, self.client, self.container_id, grace, abandon_on_cancel=True
        )


def _timed_out(
    identifier: str, display: str, exit_: ContainerExit | None, timeout_seconds: float | None
) -> RunOutcome:
    status_code = exit_.status_code if exit_ is not None else -1
    logger.error(
        "Docker container %s timed out after %g s and was stopped (status code %s).",
        display,
        timeout_seconds,
        status_code,
    )
    return RunOutcome(identifier, status_code, f"timed out after {timeout_seconds:g} s", ExitReason.TIMED_OUT)


async def _pull(engine: Engine, image: str, registry: RegistryAccess | None) -> None:
    """Pull the image, its progress shown on stderr (``progress``); with a
    registry, after logging in to it (so logging in happens only when a pull
    is needed). The pull itself is streamed on the event loop: a cancelled run
    stops it at once."""
    host = engine.host
    logger.info("Pulling image %r...", image)
    auth_config = await _call(host, _log_in, registry) if registry is not None else None
    reporter = reporter_for(image, logger)
    if not supports(host):
        await _call(host, _pull_blocking, host, image, auth_config, reporter)
        return
    credentials = await _call(host, pull_credentials, engine.client, image, auth_config)
    async with EngineStreams(host, engine.info.api_version) as streams:
        try:
            await pull_image(streams, image, credentials, reporter)
        except EngineUnreachable as exc:
            raise connection_error(host, exc) from None
        except StreamBroken as exc:
            raise InfrastructureError(f"Could not pull image {image!r}: {exc}") from None


def _log_in(registry: RegistryAccess) -> dict[str, str]:
    """Log in to the registry (a failure names it, never the password); its
    credentials for the pull."""
    registry.get_docker_client().close()
    return registry.auth_config()


def _pull_blocking(
    host: DockerHost, image: str, auth_config: dict[str, str] | None, reporter: PullReporter
) -> None:
    client = new_client(host)
    try:
        pull_image_blocking(client, image, auth_config, reporter)
    finally:
        client.close()


async def _create(
    engine: Engine, spec: ContainerSpec, registry: RegistryAccess | None
) -> tuple[str, str | None]:
    import docker

    host, client = engine.host, engine.client
    try:
        return await _call(host, _create_with_free_name, client, spec)
    except docker.errors.ImageNotFound:
        if spec.pull_policy is ImagePullPolicy.NEVER:
            raise InfrastructureError(
                f"Image {spec.image!r} is not present on the Docker engine at {host.url}, "
                "and image_pull_policy is NEVER: build or pull it first, or use "
                "another pull policy."
            ) from None
        if spec.pull_policy is ImagePullPolicy.ALWAYS:
            raise InfrastructureError(
                f"Image {spec.image!r} was pulled but the engine does not find it (removed meanwhile?)."
            ) from None
    await _pull(engine, spec.image, registry)
    return await _call(host, _create_with_free_name, client, spec)


def _create_with_free_name(client: docker.DockerClient, spec: ContainerSpec) -> tuple[str, str | None]:
    """Create the container; a taken name retries as ``name-1``, ``name-2``..."""
    import docker

    body = spec.create_body()
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = names.numbered_name(spec.name, attempt) if spec.name else None
        try:
            created = client.api.create_container_from_config(body, name=name)
            return str(created["Id"]), name
        except docker.errors.APIError as exc:
            conflict = exc.status_code == 409 and "already in use" in str(exc.explanation)
            if name is None or not conflict:
                raise
    raise InfrastructureError(
        f"Could not create container {spec.name!r}: the names {spec.name}-1 to "
        f"{spec.name}-{MAX_NAME_ATTEMPTS - 1} are all taken."
    )


async def _start(
    host: DockerHost, client: docker.DockerClient, container_id: str, spec: ContainerSpec
) -> None:
    try:
        await _call(host, client.api.start, container_id, error_exit_code=_start_exit_code)
    except InfrastructureError as exc:
        if spec.gpus is not None and "device driver" in str(exc):
            raise InfrastructureError(
                f"{exc} (gpus={spec.gpus!r} needs GPUs and their container runtime, such as the "
                f"NVIDIA Container Toolkit, on the host of the Docker engine at {host.url})",
                exit_code=exc.exit_code,
            ) from None
        raise


def _start_exit_code(message: str) -> int:
    """Docker's CLI conventions for a command that cannot start."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 125


async def _attach_output(output: ContainerOutput, display: str) -> ByteStream | None:
    try:
        return await output.attach()
    except EngineUnreachable as exc:
        raise connection_error(output.host, exc) from None
    except StreamBroken as exc:
        raise InfrastructureError(
            f"Could not attach to the output of Docker container {display}: {exc}"
        ) from None


def _outcome(
    identifier: str, display: str, exit_: ContainerExit | None, mem_limit: object = None
) -> RunOutcome:
    if exit_ is None:
        logger.warning(
            "Docker container %s was removed while being watched; its exit code is unknown.", display
        )
        return RunOutcome(identifier, -1, "container removed", ExitReason.UNKNOWN)
    reason = exits.exit_reason(exit_.status_code, oom_killed=exit_.oom_killed, error=exit_.error)
    logger.info("Docker container %s has status 'exited'", display)
    if exit_.status_code != 0 or reason:
        explanation = exits.describe_exit(exit_.status_code, reason, mem_limit)
        message = f"Docker container {display} exited with status code: {exit_.status_code}"
        logger.error(f"{message}; {explanation}" if explanation else message)
    kind = exits.exit_kind(exit_.status_code, oom_killed=exit_.oom_killed)
    return RunOutcome(identifier, exit_.status_code, reason, kind)


# --- kill and attach ------------------------------------------------------------------


def stop_timeout(grace_seconds: float) -> int:
    """The engine's stop timeout takes whole seconds: a fractional grace is
    rounded up, never cut short."""
    return max(0, math.ceil(grace_seconds))


async def kill_container(infrastructure_pid: str, grace_seconds: float) -> None:
    """Stop the container: SIGTERM, then SIGKILL after ``grace_seconds``."""
    import docker

    engine, container_id = await reachable(infrastructure_pid)
    try:
        await _call(engine.host, engine.client.api.stop, container_id, timeout=stop_timeout(grace_seconds))
    except docker.errors.NotFound:
        raise InfrastructureNotFound(
            f"Unable to stop container {container_id[:12]!r}: it was not found on the "
            f"Docker engine at {engine.host.url}."
        ) from None


async def attach_container(
    infrastructure_pid: str, task_status: TaskStatus[str], *, stream_output: bool
) -> RunOutcome:
    """Resume following a container started elsewhere (by another, possibly
    dead, launchbay process): its output from the start, then live, and its
    exit code."""
    engine, container_id = await reachable(infrastructure_pid)
    host, client = engine.host, engine.client
    async with AsyncExitStack() as resources:
        subscription = watcher_for(host).subscribe(container_id)
        resources.callback(subscription.close)
        connection = await subscription.wait_live()
        details = await _call(host, _inspect_or_none, client, container_id)
        if details is None:
            raise InfrastructureNotFound(
                f"Container {container_id[:12]!r} was not found on the Docker engine at {host.url}."
            )
        name = str(details.get("Name") or "").lstrip("/")
        display = repr(name) if name else container_id[:12]
        state = details.get("State") or {}
        # Events replayed from before this start are of an earlier life.
        subscription.forget_before(started_at(state))
        if not is_finished(state):
            logger.info("Docker container %s has status %r", display, state.get("Status"))
        task_status.started(infrastructure_pid)
        output = None
        if stream_output:
            streams = _streams(engine, True)
            if streams is not None:
                resources.push_async_callback(streams.aclose)
            tty = bool((details.get("Config") or {}).get("Tty"))
            output = ContainerOutput(host, streams, container_id, tty=tty)
            resources.callback(output.finish)
        exit_: ContainerExit | None
        if is_finished(state):
            exit_ = ContainerExit.from_state(state)
            # The engine's flag can miss an OOM kill its events reported.
            if subscription.oom_killed and not exit_.oom_killed:
                exit_ = ContainerExit(exit_.status_code, oom_killed=True, error=exit_.error)
            if output is not None:
                await _relay_finished_log(output)
        else:
            exit_ = await follow_container(_inspector(client, container_id), subscription, connection, output)
    return _outcome(infrastructure_pid, display, exit_)


async def _relay_finished_log(output: ContainerOutput) -> None:
    try:
        await output.follow_log(follow=False)
    except (LogUnavailable, StreamBroken, OSError) as exc:
        logger.warning("Could not read the output of container %s: %s", output.container_id[:12], exc)


# --- engine calls (docker-py, in worker threads) ----------------------------------------------


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


def _inspector(client: docker.DockerClient, container_id: str) -> Inspect:
    """The container's ``State`` on demand (None once it is gone)."""

    async def inspect() -> Mapping[str, Any] | None:
        details = await anyio.to_thread.run_sync(_inspect_or_none, client, container_id)
        return None if details is None else details["State"]

    return inspect


def _inspect_or_none(client: docker.DockerClient, container_id: str) -> dict[str, Any] | None:
    import docker

    try:
        return client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return None


async def _remove_quietly(client: docker.DockerClient, container_id: str) -> None:
    """Remove a container that was created but could not be started."""

    def remove() -> None:
        try:
            client.api.remove_container(container_id, force=True)
        except Exception:
            pass

    await anyio.to_thread.run_sync(remove)


async def _stop_and_drain(
    client: docker.DockerClient,
    container_id: str,
    exited: Callable[[], Awaitable[object]],
    output: ContainerOutput | None,
    request: StopRequest,
) -> None:
    """Stop a cancelled run's container as SPEC 13 says, still relaying what
    it writes until it stops (from its log, skipping what was already relayed)."""

    async def drain(output: ContainerOutput) -> None:
        with anyio.move_on_after(request.grace_seconds + _DRAIN_MARGIN_SECONDS):
            try:
                await output.follow_log(follow=True)
            except (LogUnavailable, StreamBroken, OSError):
                pass

    async with anyio.create_task_group() as task_group:
        if output is not None:
            task_group.start_soon(drain, output)
        await stop_container(client, container_id, exited, request)


async def stop_container(
    client: docker.DockerClient,
    container_id: str,
    exited: Callable[[], Awaitable[object]],
    request: StopRequest,
) -> None:
    """``request.signum`` to the container (``docker kill --signal``: SIGINT
    as SIGINT), then SIGKILL unless ``exited`` returns within the grace; a
    second signal (the request escalated) kills it at once. Never leaves it
    running."""
    await _signal_quietly(client, container_id, request.signum)
    if not await _exits_within_grace(exited, request):
        await _signal_quietly(client, container_id, signal.SIGKILL)


async def _exits_within_grace(exited: Callable[[], Awaitable[object]], request: StopRequest) -> bool:
    done = False
    async with anyio.create_task_group() as task_group:

        async def grace() -> None:
            try:
                await request.sleep_unless_escalated(request.grace_seconds)
            except Escalated:
                pass
            task_group.cancel_scope.cancel()

        task_group.start_soon(grace)
        await exited()
        done = True
        task_group.cancel_scope.cancel()
    return done


async def _signal_quietly(client: docker.DockerClient, container_id: str, signum: int) -> None:
    """``docker kill --signal``; a container that has already stopped (or
    gone) needs no signal."""

    def kill() -> None:
        try:
            client.api.kill(container_id, signal=int(signum))
        except Exception as exc:
            logger.debug("Signal %s to container %s: %s", signum, container_id[:12], exc)

    await anyio.to_thread.run_sync(kill)


def _stop_quietly(client: docker.DockerClient, container_id: str, grace_seconds: float) -> None:
    """``docker stop`` (blocking); a container already stopped or gone is fine."""
    try:
        client.api.stop(container_id, timeout=stop_timeout(grace_seconds))
    except Exception as exc:
        logger.debug("Stopping container %s: %s", container_id[:12], exc)
