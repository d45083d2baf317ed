"""Pull policies and registry logins against the local registry
(scripts/services/registry.sh: Debian's docker-registry with password auth)."""

from __future__ import annotations

from typing import Any

import pytest

from launchbay import DockerContainer, DockerRegistry
from launchbay.exceptions import InfrastructureError
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    RegistryImages,
    _docker_session,
    docker_client,
    registry,
    registry_images,
    test_labels,
)

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def credentials(registry: dict[str, str], password: str | None = None) -> DockerRegistry:
    return DockerRegistry(
        username=registry["username"],
        password=password if password is not None else registry["password"],
        registry_url=registry["address"],
    )


def run(image: str, test_labels: dict[str, str], **fields: Any) -> Any:
    container = DockerContainer(
        image=image, command=["sh", "-c", "exit 0"], labels=test_labels, stream_output=False, **fields
    )
    return container.run()


def image_of(docker_client: Any, result: Any) -> str:
    return str(docker_client.containers.get(result.identifier.rsplit(":", 1)[1]).attrs["Image"])


class TestPolicies:
    def test_always_pulls(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        pushed = registry_images.push("v1")
        stale = registry_images.local_variant("v1")  # a local image under the same name
        assert registry_images.local_id("v1") == stale
        result = run(
            registry_images.ref("v1"),
            test_labels,
            image_pull_policy="ALWAYS",
            image_registry=credentials(registry),
        )
        assert result.status_code == 0
        assert registry_images.local_id("v1") == pushed
        assert image_of(docker_client, result) == pushed

    def test_if_not_present_pulls_a_missing_image(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        pushed = registry_images.push("v1")
        assert registry_images.local_id("v1") is None
        result = run(
            registry_images.ref("v1"),
            test_labels,
            image_pull_policy="IF_NOT_PRESENT",
            image_registry=credentials(registry),
        )
        assert result.status_code == 0
        assert registry_images.local_id("v1") == pushed

    def test_if_not_present_does_not_pull_or_log_in_for_a_local_image(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push("v1")
        local = registry_images.local_variant("v1")
        # A wrong password proves that no login (and so no pull) happened.
        result = run(
            registry_images.ref("v1"),
            test_labels,
            image_pull_policy="IF_NOT_PRESENT",
            image_registry=credentials(registry, "wrong"),
        )
        assert result.status_code == 0
        assert image_of(docker_client, result) == local
        assert registry_images.local_id("v1") == local

    def test_never_never_pulls(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push("v1")
        image = registry_images.ref("v1")
        with pytest.raises(InfrastructureError) as caught:
            run(image, test_labels, image_pull_policy="NEVER", image_registry=credentials(registry))
        assert f"Image {image!r} is not present" in str(caught.value)
        assert registry_images.local_id("v1") is None

    def test_never_runs_a_local_image(
        self, docker_client: Any, registry_images: RegistryImages, test_labels: dict[str, str]
    ) -> None:
        local = registry_images.local_variant("only-here")
        result = run(registry_images.ref("only-here"), test_labels, image_pull_policy="NEVER")
        assert image_of(docker_client, result) == local

    def test_latest_is_pulled_by_default(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        pushed = registry_images.push("latest")
        registry_images.local_variant("latest")
        result = run(registry_images.repository, test_labels, image_registry=credentials(registry))
        assert image_of(docker_client, result) == pushed

    def test_a_tag_is_pulled_only_when_missing_by_default(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push("v3")
        local = registry_images.local_variant("v3")
        result = run(registry_images.ref("v3"), test_labels, image_registry=credentials(registry, "wrong"))
        assert image_of(docker_client, result) == local

    def test_digest_references(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        pushed = registry_images.push("v1")
        reference = registry_images.digest("v1")
        result = run(reference, test_labels, image_registry=credentials(registry))
        assert result.status_code == 0
        assert image_of(docker_client, result) == pushed


class TestFailures:
    def test_wrong_password_is_a_clear_error_without_the_password(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push("v1")
        password = "not-the-password-4711"
        with pytest.raises(InfrastructureError) as caught:
            run(
                registry_images.ref("v1"),
                test_labels,
                image_pull_policy="ALWAYS",
                image_registry=credentials(registry, password),
            )
        message = str(caught.value)
        assert f"Could not log in to Docker registry {registry['address']!r}" in message
        assert registry["username"] in message
        assert password not in message
        assert "401" in message or "unauthorized" in message.lower()

    def test_pull_without_credentials_names_image_and_cause(
        self, docker_client: Any, registry_images: RegistryImages, test_labels: dict[str, str]
    ) -> None:
        registry_images.push("v1")
        image = registry_images.ref("v1")
        with pytest.raises(InfrastructureError) as caught:
            run(image, test_labels)
        message = str(caught.value)
        assert message.startswith(f"Could not pull image {image!r}: ")
        assert "auth" in message.lower()

    def test_missing_tag_names_image_and_cause(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push("v1")
        image = registry_images.ref("no-such-tag")
        with pytest.raises(InfrastructureError) as caught:
            run(image, test_labels, image_registry=credentials(registry))
        message = str(caught.value)
        assert message.startswith(f"Could not pull image {image!r}: ")
        assert "not found" in message or "unknown" in message
