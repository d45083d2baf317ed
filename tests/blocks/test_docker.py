"""DockerRegistry (SPEC 3.2): fields, secrecy, persistence, and logins against
the local registry (scripts/services/registry.sh)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from launchbay import Block, DockerContainer, DockerRegistry
from launchbay.exceptions import InfrastructureError
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    RegistryImages,
    _docker_session,
    docker_client,
    registry,
    registry_images,
)

SECRET = "pa55-w0rd-never-shown"


def block(password: str = SECRET, **fields: Any) -> DockerRegistry:
    return DockerRegistry(
        username=fields.pop("username", "deployer"),
        password=password,
        registry_url=fields.pop("registry_url", "registry.example.com:5000"),
        **fields,
    )


class TestBlock:
    def test_type(self) -> None:
        assert DockerRegistry.get_block_type_name() == "Docker Registry"
        assert DockerRegistry.get_block_type_slug() == "docker-registry"
        schema = DockerRegistry.get_block_schema()
        assert schema["secret_fields"] == ["password"]
        assert set(schema["required"]) == {"username", "password", "registry_url"}

    def test_reauth_defaults_to_true(self) -> None:
        assert block().reauth is True
        assert block(reauth=False).reauth is False

    def test_the_password_is_never_shown(self) -> None:
        registry = block()
        assert SECRET not in repr(registry)
        assert SECRET not in str(registry)
        assert SECRET not in registry.model_dump_json()
        assert json.loads(registry.model_dump_json())["password"] == "**********"
        assert registry.password.get_secret_value() == SECRET

    def test_save_and_load(self) -> None:
        block().save("my-registry")
        loaded = DockerRegistry.load("my-registry")
        assert loaded.password.get_secret_value() == SECRET
        assert loaded.registry_url == "registry.example.com:5000"
        assert isinstance(Block.load("docker-registry/my-registry"), DockerRegistry)

    def test_nested_in_a_docker_container(self) -> None:
        DockerContainer(image="registry.example.com:5000/app:1", image_registry=block()).save("with-registry")
        loaded = DockerContainer.load("with-registry")
        assert isinstance(loaded.image_registry, DockerRegistry)
        assert loaded.image_registry.password.get_secret_value() == SECRET
        assert SECRET not in loaded.model_dump_json()
        assert SECRET not in loaded.preview()


@pytest.mark.docker
@pytest.mark.registry
class TestLogin:
    def test_get_docker_client_is_logged_in(
        self, docker_client: Any, registry: dict[str, str], registry_images: RegistryImages
    ) -> None:
        registry_images.push("v1")
        client = DockerRegistry(
            username=registry["username"], password=registry["password"], registry_url=registry["address"]
        ).get_docker_client()
        try:
            # The login is what lets this pull through (no credentials are passed).
            client.images.pull(registry_images.repository, tag="v1")
        finally:
            client.close()
        assert registry_images.local_id("v1") is not None

    def test_a_wrong_password_names_the_registry_not_the_password(
        self, docker_client: Any, registry: dict[str, str]
    ) -> None:
        with pytest.raises(InfrastructureError) as caught:
            block(username=registry["username"], registry_url=registry["address"]).get_docker_client()
        message = str(caught.value)
        assert message.startswith(f"Could not log in to Docker registry {registry['address']!r}")
        assert SECRET not in message

    def test_an_unreachable_registry(self, docker_client: Any) -> None:
        with pytest.raises(InfrastructureError) as caught:
            block(registry_url="127.0.0.1:9").get_docker_client()
        message = str(caught.value)
        assert "'127.0.0.1:9'" in message and "connection refused" in message
        assert SECRET not in message
