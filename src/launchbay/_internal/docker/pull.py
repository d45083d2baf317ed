"""Pulling an image, with its progress shown (``progress``) and failures
that name the image and the cause."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from launchbay._internal.docker.images import pull_arguments
from launchbay._internal.docker.progress import PullReporter, Silent
from launchbay._internal.docker.registry import scrub
from launchbay.exceptions import InfrastructureError

if TYPE_CHECKING:
    import docker


def pull_image(
    client: docker.DockerClient,
    image: str,
    auth_config: Mapping[str, str] | None = None,
    reporter: PullReporter | None = None,
) -> None:
    """Pull ``image`` (blocking: run it in a worker thread), its progress
    shown by ``reporter``. The engine reports some failures in the HTTP status
    and others inside the progress stream; both become one
    ``InfrastructureError``, with the password never in it."""
    import docker

    reporter = reporter or Silent()
    repository, tag = pull_arguments(image)
    secret = auth_config.get("password", "") if auth_config else ""
    succeeded = False
    try:
        for message in client.api.pull(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=dict(auth_config) if auth_config else None,
        ):
            error = message.get("error") or (message.get("errorDetail") or {}).get("message")
            if error:
                raise _pull_error(image, scrub(str(error), secret))
            reporter.update(message)
        succeeded = True
    except docker.errors.APIError as exc:
        raise _pull_error(image, scrub(str(exc.explanation or exc), secret)) from None
    finally:
        reporter.finish(succeeded)


def _pull_error(image: str, cause: str) -> InfrastructureError:
    hint = ""
    lowered = cause.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        hint = " (check the registry credentials: image_registry / --registry)"
    elif "not found" in lowered or "manifest unknown" in lowered:
        hint = " (check the image name and tag)"
    return InfrastructureError(f"Could not pull image {image!r}: {cause}{hint}")
