"""``DockerRegistry``: credentials for a container registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from launchbay._internal.docker.registry import scrub
from launchbay.blocks.core import Block, SecretStr
from launchbay.exceptions import InfrastructureError

if TYPE_CHECKING:
    import docker


class DockerRegistry(Block):
    """A registry to log in to before pulling images from it.

    The password is stored, but masked in ``repr``, JSON and CLI output, and it
    never appears in error messages.
    """

    _block_type_name: ClassVar[str] = "Docker Registry"
    _documentation_url: ClassVar[str] = "https://launchbay.dev/blocks/docker-registry"

    username: str = Field(description="The user to log in as.")
    password: SecretStr = Field(description="The password (or an access token).")
    registry_url: str = Field(
        description="The registry: 'host[:port]' (e.g. 'ghcr.io', '127.0.0.1:5000') or its URL."
    )
    reauth: bool = Field(
        default=True,
        description="Log in again even when the Docker config already holds credentials "
        "for this user and registry.",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "username", self.username
        yield "registry_url", self.registry_url
        yield "reauth", self.reauth

    def get_docker_client(self) -> docker.DockerClient:
        """A Docker client (Docker settings from the environment) logged in to
        this registry."""
        from launchbay._internal.docker.connection import new_client, resolve_host

        client = new_client(resolve_host())
        try:
            self.login(client)
        except BaseException:
            client.close()
            raise
        return client

    def login(self, client: docker.DockerClient) -> None:
        """Log ``client`` in; the engine checks the credentials with the
        registry. Failures raise an ``InfrastructureError`` naming the registry
        and the user, never the password."""
        import docker

        from launchbay._internal.docker.connection import resolve_host, translate_connection_errors

        password = self.password.get_secret_value()
        try:
            with translate_connection_errors(resolve_host()):
                client.login(
                    username=self.username,
                    password=password,
                    registry=self.registry_url,
                    reauth=self.reauth,
                )
        except docker.errors.APIError as exc:
            cause = scrub(str(exc.explanation or exc), password)
            raise InfrastructureError(
                f"Could not log in to Docker registry {self.registry_url!r} as {self.username!r}: {cause}"
            ) from None

    def auth_config(self) -> dict[str, str]:
        """The credentials as the engine's pull endpoint takes them (contains
        the password: for launchbay's own use, never for display)."""
        return {
            "username": self.username,
            "password": self.password.get_secret_value(),
            "serveraddress": self.registry_url,
        }
