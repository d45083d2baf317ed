"""``DockerContainer``: run the command in a Docker container.

The block holds the fields and their validation; what a run creates is built
by ``launchbay._internal.docker.spec`` (pure, also behind ``preview()``), and
the engine is driven by ``launchbay._internal.docker.runner``, loaded on first
use (run, kill, attach) with docker-py and httpx, never at import time.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import TYPE_CHECKING, ClassVar, Literal

from anyio.abc import TaskStatus
from pydantic import Field, field_validator

from launchbay._internal.docker import resources
from launchbay._internal.docker.images import ImagePullPolicy
from launchbay._internal.docker.memory import parse_bytes
from launchbay._internal.docker.spec import ContainerSpec, build_spec
from launchbay._internal.images import default_image
from launchbay.blocks.docker import DockerRegistry
from launchbay.infrastructure.base import Infrastructure, InfrastructureResult
from launchbay.settings import base_environment, get_current_settings

if TYPE_CHECKING:
    from launchbay._internal.docker.runner import RunOutcome

__all__ = ["DockerContainer", "DockerContainerResult", "ImagePullPolicy"]


class DockerContainerResult(InfrastructureResult):
    """The result of a ``DockerContainer`` run: the container's exit code;
    ``reason`` ``OOMKilled``, the signal (``SIGKILL``...) or ``timed out after
    N s`` when it ended so; ``exit_reason`` the same for scripts."""


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
    cpus: float | None = Field(
        default=None, description="How many CPUs the container may use, e.g. 1.5 (docker run --cpus)."
    )
    shm_size: int | str | None = Field(
        default=None, description="Size of /dev/shm: bytes or '64m' (docker run --shm-size)."
    )
    gpus: int | Literal["all"] | None = Field(
        default=None,
        description="GPUs to give the container: a number, or 'all' (docker run --gpus; needs the "
        "NVIDIA Container Toolkit on the engine's host).",
    )
    user: str | None = Field(
        default=None,
        description="User (and group) to run as: 'name', 'uid' or 'uid:gid' (docker run --user).",
    )

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

    @field_validator("cpus")
    @classmethod
    def _check_cpus(cls, value: float | None) -> float | None:
        return None if value is None else resources.check_cpus(value)

    @field_validator("shm_size")
    @classmethod
    def _check_shm_size(cls, value: int | str | None) -> int | str | None:
        return None if value is None else resources.check_shm_size(value)

    @field_validator("gpus", mode="before")
    @classmethod
    def _check_gpus(cls, value: object) -> int | str | None:
        return None if value is None else resources.check_gpus(value)

    @field_validator("user")
    @classmethod
    def _check_user(cls, value: str | None) -> str | None:
        return None if value is None else resources.check_user(value)

    # --- what would be created ------------------------------------------------

    @staticmethod
    def _base_environment() -> dict[str, str]:
        """The settings the user set, without those that carry credentials
        (the database URL): a container gets them only when its ``env`` says so."""
        return base_environment(include_credentials=False)

    def _spec(self, engine_version: str | None = None) -> ContainerSpec:
        """What a run creates; its configuration warnings are issued (SPEC 8).
        ``engine_version`` None assumes an engine recent enough for
        ``host-gateway`` (a preview does not ask the engine)."""
        spec = build_spec(
            self,
            base_environment=self._base_environment(),
            settings_api_url=get_current_settings().api_url,
            platform=sys.platform,
            engine_version=engine_version,
        )
        for message in spec.warnings:
            self.logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)  # the caller of preview()
        return spec

    def preview(self) -> str:
        """JSON of the creation request (POST /containers/create), the pull
        policy, the networks connected before start and the timeout, with
        passwords in the environment masked. Nothing is contacted."""
        return json.dumps(self._spec().preview(), indent=2)

    # --- running, killing, attaching (delegated to the runner) --------------------------

    async def _run(self, task_status: TaskStatus[str]) -> DockerContainerResult:
        from launchbay._internal.docker import runner

        engine = await runner.connect()
        spec = self._spec(engine.info.engine_version)
        outcome = await runner.run_container(
            engine, spec, task_status, stream_output=self.stream_output, registry=self.image_registry
        )
        return _result(outcome)

    async def _kill(self, infrastructure_pid: str, grace_seconds: float) -> None:
        from launchbay._internal.docker import runner

        await runner.kill_container(infrastructure_pid, grace_seconds)

    async def _attach(self, infrastructure_pid: str, task_status: TaskStatus[str]) -> DockerContainerResult:
        """Resume following a container started elsewhere (by another, possibly
        dead, launchbay process): its output from the start, then live, and its
        exit code."""
        from launchbay._internal.docker import runner

        outcome = await runner.attach_container(
            infrastructure_pid, task_status, stream_output=self.stream_output
        )
        return _result(outcome)


def _result(outcome: RunOutcome) -> DockerContainerResult:
    return DockerContainerResult(
        identifier=outcome.identifier,
        status_code=outcome.status_code,
        reason=outcome.reason,
        exit_reason=outcome.exit_reason,
    )
