"""Pull policies and registry logins against the local registry
(scripts/services/registry.sh: Debian's docker-registry with password auth)."""

from __future__ import annotations

import base64
import json
import logging
import os
import pty
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from launchbay import DockerContainer, DockerRegistry
from launchbay.exceptions import InfrastructureError
from tests.cli.commands import LAUNCHBAY
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    RegistryImages,
    StallingProxy,
    _docker_session,
    container_by_label,
    docker_client,
    registry,
    registry_images,
    remove_test_containers,
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


# --- pull progress (SPEC 15) ------------------------------------------------------------

LAYER_BYTES = 3_000_000
PULLED = re.compile(
    r"Pulled image '(?P<image>[^']+)': (?P<done>\d+)/(?P<layers>\d+) layers, (?P<got>[\d.]+ [kM]?B) of (?P<total>[\d.]+ [kM]?B)"
)


def cli(*args: str, input: str | None = None, stderr: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAUNCHBAY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        text=True,
        input=input,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )


def save_registry_block(registry: dict[str, str]) -> None:
    done = cli(
        "block", "save", "docker-registry", "local", "--username", registry["username"], "--password-stdin",
        "--registry-url", registry["address"], input=registry["password"] + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def pull_and_run(image: str, test_labels: dict[str, str], *flags: str) -> list[str]:
    label = next(iter(test_labels.items()))
    return [
        "run",
        *flags,
        "--docker",
        image,
        "--pull",
        "always",
        "--registry",
        "local",
        "-l",
        "=".join(label),
        "--",
        "true",
    ]


class TestProgress:
    def test_the_api_logs_layers_and_bytes(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        registry_images.push_sized("big", LAYER_BYTES)
        caplog.set_level(logging.INFO, "launchbay")
        image = registry_images.ref("big")
        result = run(image, test_labels, image_pull_policy="ALWAYS", image_registry=credentials(registry))
        assert result.status_code == 0
        (line,) = [message for message in caplog.messages if message.startswith("Pulled image")]
        pulled = PULLED.fullmatch(line)
        assert pulled is not None, line
        assert pulled["image"] == image
        assert pulled["done"] == pulled["layers"] == "2"  # the test image's layer, and the new one
        assert pulled["got"] == pulled["total"] and pulled["total"].endswith(" MB")

    def test_the_cli_shows_it_on_stderr_and_nothing_under_quiet(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push_sized("big", LAYER_BYTES)
        save_registry_block(registry)
        image = registry_images.ref("big")
        done = cli(*pull_and_run(image, test_labels))
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""  # the run's own output only
        pulled = PULLED.search(done.stderr)
        assert pulled is not None, done.stderr
        assert pulled["got"] == pulled["total"] and pulled["layers"] == "2"
        remove_test_containers(docker_client, docker_client.launchbay_test_run)
        registry_images.untag("big")  # so that it is downloaded again
        quiet = cli(*pull_and_run(image, test_labels, "-q"))
        assert quiet.returncode == 0, quiet.stderr
        assert (quiet.stdout, quiet.stderr) == ("", "")

    def test_a_live_bar_on_a_terminal(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push_sized("big", LAYER_BYTES)
        save_registry_block(registry)
        image = registry_images.ref("big")
        controller, terminal = pty.openpty()
        try:
            done = cli(*pull_and_run(image, test_labels), stderr=terminal)
            os.close(terminal)
            terminal = -1
            shown = b""
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            if terminal >= 0:
                os.close(terminal)
            os.close(controller)
        assert done.returncode == 0
        assert done.stdout == ""
        text = shown.decode(errors="replace")
        assert f"Pulling {image}" in text and "layers" in text  # the bar, drawn while it lasted
        assert "\x1b[" in text  # with the terminal's control sequences
        assert PULLED.search(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)) is not None  # then the closing line


class TestCancel:
    @pytest.mark.timeout(180)
    def test_a_cancelled_run_stops_its_pull_at_once(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
    ) -> None:
        registry_images.push_sized("big", LAYER_BYTES)
        host, port = registry["address"].rsplit(":", 1)
        proxy = StallingProxy((host, int(port)), stall_after=LAYER_BYTES // 3)  # the pull hangs half-way
        try:
            address = f"127.0.0.1:{proxy.port}"
            image = registry_images.ref("big").replace(registry["address"], address, 1)
            container = DockerContainer(
                image=image,
                image_pull_policy="ALWAYS",
                image_registry=DockerRegistry(
                    username=registry["username"], password=registry["password"], registry_url=address
                ),
                command=["true"],
                labels=test_labels,
            )

            async def main() -> None:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(container.arun)
                    assert await anyio.to_thread.run_sync(proxy.stalled.wait, 120)
                    tg.cancel_scope.cancel()  # were the pull not cancellable, this would wait for ever

            anyio.run(main)
            assert container_by_label(docker_client, docker_client.launchbay_test_run) == []
        finally:
            proxy.close()

    def test_credentials_of_docker_login_are_used_without_a_registry_block(
        self,
        docker_client: Any,
        registry: dict[str, str],
        registry_images: RegistryImages,
        test_labels: dict[str, str],
        tmp_path: Path,
    ) -> None:
        registry_images.push("v1")
        token = base64.b64encode(f"{registry['username']}:{registry['password']}".encode()).decode()
        (tmp_path / "config.json").write_text(json.dumps({"auths": {registry["address"]: {"auth": token}}}))
        label = "=".join(next(iter(test_labels.items())))
        command = [
            "run",
            "--docker",
            registry_images.ref("v1"),
            "--pull",
            "always",
            "-l",
            label,
            "--",
            "true",
        ]
        done = subprocess.run(
            [LAUNCHBAY, *command],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DOCKER_CONFIG": str(tmp_path)},
        )
        assert done.returncode == 0, done.stderr
        assert "Pulled image" in done.stderr
