"""What a pull sends to authenticate, and failures inside its progress stream."""

from __future__ import annotations

import pytest

from launchbay._internal.docker import pull
from launchbay.exceptions import InfrastructureError

AUTH = {"username": "ci", "password": "s3cret!", "serveraddress": "127.0.0.1:5055"}


def test_the_auth_header_is_what_docker_py_sends() -> None:
    from docker import auth

    assert pull.registry_auth_header(AUTH) == auth.encode_header(AUTH).decode()


def test_a_registry_blocks_credentials_need_no_docker_config() -> None:
    credentials = pull.pull_credentials(None, "127.0.0.1:5055/app:v1", AUTH)  # type: ignore[arg-type]
    assert credentials == pull.PullCredentials(pull.registry_auth_header(AUTH), "s3cret!")


def test_an_error_in_the_stream_names_the_image_and_never_the_password() -> None:
    pull._check("app:v1", {"status": "Downloading"}, "s3cret!")  # progress: no error
    with pytest.raises(InfrastructureError) as caught:
        pull._check("app:v1", {"errorDetail": {"message": "denied: s3cret! is wrong"}}, "s3cret!")
    message = str(caught.value)
    assert message.startswith("Could not pull image 'app:v1': denied: ")
    assert "s3cret!" not in message and "check the registry credentials" in message
