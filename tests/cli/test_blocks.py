"""``launchbay block save``: blocks of every type from flags, and no option of
one type silently dropped for another."""

from __future__ import annotations

import json

import pytest

from tests.cli.commands import launchbay


def _saved() -> list[str]:
    listed = json.loads(launchbay("block", "ls", "--json").stdout)
    return [f"{block['type']}/{block['name']}" for block in listed]


@pytest.mark.parametrize("block_type", ["docker-container", "kubernetes-job"])
def test_an_image_block_without_image_gets_the_default_image(block_type: str) -> None:
    from launchbay import DockerContainer, KubernetesJob

    done = launchbay("block", "save", block_type, "plain", "--", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert f"saved {block_type}/plain" in done.stderr
    cls = DockerContainer if block_type == "docker-container" else KubernetesJob
    saved = cls.load("plain")
    assert saved.image == cls().image
    assert saved.command == ["echo", "hi"]


@pytest.mark.parametrize(
    ("block_type", "image_flag"), [("docker-container", "--docker"), ("kubernetes-job", "--kubernetes")]
)
def test_image_and_the_kinds_own_flag_both_give_the_image(block_type: str, image_flag: str) -> None:
    from launchbay import Block

    for name, flag in (("by-image", "--image"), ("by-flag", image_flag)):
        done = launchbay("block", "save", block_type, name, flag, "busybox:1.36", "--", "true")
        assert done.returncode == 0, done.stderr
        assert Block.load(f"{block_type}/{name}").image == "busybox:1.36"  # type: ignore[attr-defined]
    both = launchbay("block", "save", block_type, "both", "--image", "a:1", image_flag, "b:1", "--", "true")
    assert both.returncode == 2
    assert both.stderr == f"launchbay: error: give --image or {image_flag}, not both\n"


def test_image_for_a_process_block_is_refused() -> None:
    done = launchbay("block", "save", "process", "p", "--image", "busybox:1.36", "--", "true")
    assert done.returncode == 2
    assert done.stderr == (
        "launchbay: error: --image is for docker-container and kubernetes-job blocks, not process\n"
    )
    assert _saved() == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["docker-registry", "r", "--image", "x"],
            "--image is for docker-container and kubernetes-job blocks, not docker-registry",
        ),
        (
            ["process", "p", "--username", "me", "--", "true"],
            "--username is for docker-registry blocks, not process",
        ),
        (
            ["process", "p", "--no-reauth", "--", "true"],
            "--reauth/--no-reauth is for docker-registry blocks, not process",
        ),
        (
            ["docker-container", "d", "--from-file", "/k", "--", "true"],
            "--from-file is for kubernetes-cluster-config blocks, not docker-container",
        ),
        (
            ["kubernetes-cluster-config", "c", "-e", "A=1"],
            "--env is for infrastructure blocks, not kubernetes-cluster-config",
        ),
        (
            ["kubernetes-cluster-config", "c", "--", "true"],
            "a command is for infrastructure blocks, not kubernetes-cluster-config",
        ),
    ],
)
def test_an_option_for_another_block_type_is_refused(arguments: list[str], message: str) -> None:
    done = launchbay("block", "save", *arguments)
    assert done.returncode == 2
    assert done.stderr == f"launchbay: error: {message}\n"
    assert _saved() == []


def test_the_flags_must_describe_the_type_saved() -> None:
    done = launchbay("block", "save", "process", "p", "--docker", "busybox:1.36", "--", "true")
    assert done.returncode == 2 and "the flags describe a docker-container block, not process" in done.stderr
    assert _saved() == []


def test_a_block_saved_from_another_with_flags_applied() -> None:
    from launchbay import DockerContainer

    assert (
        launchbay(
            "block", "save", "docker-container", "base", "--image", "busybox:1.36", "-e", "A=1"
        ).returncode
        == 0
    )
    done = launchbay(
        "block", "save", "docker-container", "copy", "--infra", "base", "-e", "B=2", "--", "true"
    )
    assert done.returncode == 0, done.stderr
    copy = DockerContainer.load("copy")
    assert (copy.image, copy.env, copy.command) == ("busybox:1.36", {"A": "1", "B": "2"}, ["true"])
