"""Image references and pull policies."""

from __future__ import annotations

import enum

from launchbay._internal.images import parse_image_tag


class ImagePullPolicy(str, enum.Enum):
    """When to pull the image before creating the container."""

    ALWAYS = "ALWAYS"
    NEVER = "NEVER"
    IF_NOT_PRESENT = "IF_NOT_PRESENT"


def split_reference(image: str) -> tuple[str, str | None, str | None]:
    """``[registry[:port]/]repository[:tag][@digest]`` -> (repository with its
    registry, tag, digest). A registry port is not a tag."""
    digest = None
    if "@" in image:
        image, _, digest = image.partition("@")
    repository, tag = parse_image_tag(image)
    return repository, tag, digest


def default_pull_policy(image: str) -> ImagePullPolicy:
    """Kubernetes' rule: ``latest`` or no tag -> ALWAYS; a tag or a digest
    (which pins the image) -> IF_NOT_PRESENT."""
    _, tag, digest = split_reference(image)
    if digest is None and (tag is None or tag == "latest"):
        return ImagePullPolicy.ALWAYS
    return ImagePullPolicy.IF_NOT_PRESENT


def pull_arguments(image: str) -> tuple[str, str]:
    """(repository, tag-or-digest) as the engine's pull endpoint takes them."""
    repository, tag, digest = split_reference(image)
    if digest is not None:
        return repository, digest
    return repository, tag or "latest"
