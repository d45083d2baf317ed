"""Pulling an image, with its progress shown (``progress``) and failures
that name the image and the cause: on the event loop through httpx
(``pull_image``), or through docker-py in a worker thread where httpx does
not reach the engine (``pull_image_blocking``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from launchbay._internal.docker.images import pull_arguments
from launchbay._internal.docker.progress import PullReporter, Silent
from launchbay._internal.docker.registry import scrub
from launchbay.exceptions import InfrastructureError

if TYPE_CHECKING:
    import docker

    from launchbay._internal.docker.streams import EngineStreams


async def pull_image(
    streams: EngineStreams,
    image: str,
    credentials: PullCredentials | None = None,
    reporter: PullReporter | None = None,
) -> None:
    """Pull ``image`` on the event loop (cancellable: the engine stops the pull
    when its connection goes), its progress shown by ``reporter``. The engine
    reports some failures in the HTTP status and others inside the progress
    stream; both become one ``InfrastructureError``, with the password never
    in it. A broken connection is a ``StreamBroken`` for the caller."""
    from launchbay._internal.docker.streams import PullRefused

    reporter = reporter or Silent()
    repository, tag = pull_arguments(image)
    credentials = credentials or PullCredentials()
    secret = credentials.password
    succeeded = False
    try:
        try:
            messages = streams.pull(repository, tag, credentials.header)
            async for message in messages:
                _check(image, message, secret)
                reporter.update(message)
        except PullRefused as exc:
            raise _pull_error(image, scrub(str(exc), secret)) from None
        succeeded = True
    finally:
        reporter.finish(succeeded)


@dataclass(frozen=True)
class PullCredentials:
    """What a pull sends to authenticate (``X-Registry-Auth``), and the
    password to keep out of its messages."""

    header: str | None = None
    password: str = ""


def pull_credentials(
    client: docker.DockerClient, image: str, auth_config: Mapping[str, str] | None
) -> PullCredentials:
    """A registry block's credentials, or else those the Docker CLI's config
    holds for the image's registry (``docker login``, credential helpers), as
    docker-py would send them. Blocking (a credential helper is a program)."""
    from docker import auth

    if auth_config is not None:
        return PullCredentials(registry_auth_header(auth_config), auth_config.get("password", ""))
    registry, _ = auth.resolve_repository_name(pull_arguments(image)[0])
    return PullCredentials(auth.get_config_header(client.api, registry))


def registry_auth_header(auth_config: Mapping[str, str]) -> str:
    """``X-Registry-Auth``: the credentials as URL-safe base64 of their JSON,
    as the engine reads them (and docker-py sends them)."""
    return base64.urlsafe_b64encode(json.dumps(dict(auth_config)).encode()).decode()


def pull_image_blocking(
    client: docker.DockerClient,
    image: str,
    auth_config: Mapping[str, str] | None = None,
    reporter: PullReporter | None = None,
) -> None:
    """``pull_image`` through docker-py (blocking: run it in a worker thread),
    for engines httpx does not reach (``ssh://``, named pipes)."""
    import docker

    reporter = reporter or Silent()
    repository, tag = pull_arguments(image)
    secret = auth_config.get("password", "") if auth_config else ""
    succeeded = False
    try:
        messages: Iterable[dict[str, Any]] = client.api.pull(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=dict(auth_config) if auth_config else None,
        )
        for message in messages:
            _check(image, message, secret)
            reporter.update(message)
        succeeded = True
    except docker.errors.APIError as exc:
        raise _pull_error(image, scrub(str(exc.explanation or exc), secret)) from None
    finally:
        reporter.finish(succeeded)


def _check(image: str, message: Mapping[str, Any], secret: str) -> None:
    """A failure the engine reports inside the progress stream."""
    error = message.get("error") or (message.get("errorDetail") or {}).get("message")
    if error:
        raise _pull_error(image, scrub(str(error), secret))


def _pull_error(image: str, cause: str) -> InfrastructureError:
    hint = ""
    lowered = cause.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        hint = " (check the registry credentials: image_registry / --registry)"
    elif "not found" in lowered or "manifest unknown" in lowered:
        hint = " (check the image name and tag)"
    return InfrastructureError(f"Could not pull image {image!r}: {cause}{hint}")
