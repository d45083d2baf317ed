"""Image references and default pull policies (SPEC 6)."""

from __future__ import annotations

import pytest

from launchbay._internal.docker.images import (
    ImagePullPolicy,
    default_pull_policy,
    pull_arguments,
    split_reference,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("busybox", None, None)),
        ("busybox:1.36", ("busybox", "1.36", None)),
        ("host:5000/team/app", ("host:5000/team/app", None, None)),
        ("host:5000/team/app:v1", ("host:5000/team/app", "v1", None)),
        (f"host:5000/app@{DIGEST}", ("host:5000/app", None, DIGEST)),
        (f"host:5000/app:v1@{DIGEST}", ("host:5000/app", "v1", DIGEST)),
    ],
)
def test_references_split_with_ports_and_digests(image: str, expected: tuple) -> None:
    assert split_reference(image) == expected


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", ImagePullPolicy.ALWAYS),
        ("busybox:latest", ImagePullPolicy.ALWAYS),
        ("host:5000/app", ImagePullPolicy.ALWAYS),  # the port is not a tag
        ("host:5000/app:latest", ImagePullPolicy.ALWAYS),
        ("busybox:1.36", ImagePullPolicy.IF_NOT_PRESENT),
        ("host:5000/app:v2", ImagePullPolicy.IF_NOT_PRESENT),
        (f"host:5000/app@{DIGEST}", ImagePullPolicy.IF_NOT_PRESENT),  # pinned
    ],
)
def test_default_pull_policy_follows_kubernetes(image: str, policy: ImagePullPolicy) -> None:
    assert default_pull_policy(image) is policy


def test_pull_arguments() -> None:
    assert pull_arguments("busybox") == ("busybox", "latest")
    assert pull_arguments("host:5000/app:v2") == ("host:5000/app", "v2")
    assert pull_arguments(f"host:5000/app:v2@{DIGEST}") == ("host:5000/app", DIGEST)


def test_policy_values_are_the_reference_names() -> None:
    assert [p.value for p in ImagePullPolicy] == ["ALWAYS", "NEVER", "IF_NOT_PRESENT"]
    assert ImagePullPolicy("IF_NOT_PRESENT") is ImagePullPolicy.IF_NOT_PRESENT
