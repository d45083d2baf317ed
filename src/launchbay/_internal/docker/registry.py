"""What pulling needs of a registry's credentials, and keeping its password
out of every message. ``launchbay.blocks.docker.DockerRegistry`` provides it;
this layer only knows the shape (no import of the block)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import docker

MASK = "**********"


class RegistryAccess(Protocol):
    """A registry to log in to before pulling from it."""

    def get_docker_client(self) -> docker.DockerClient:
        """A client logged in to the registry (the caller closes it)."""
        ...

    def auth_config(self) -> dict[str, str]:
        """The credentials as the engine's pull endpoint takes them."""
        ...


def scrub(text: str, secret: str) -> str:
    """``text`` with ``secret`` masked, should an engine or registry echo it."""
    return text.replace(secret, MASK) if secret else text
