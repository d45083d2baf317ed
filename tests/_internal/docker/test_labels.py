"""Docker label keys in reverse-DNS form, and launchbay's own labels (SPEC 6)."""

from __future__ import annotations

from launchbay import __version__
from launchbay._internal.docker.labels import (
    MANAGED_LABEL,
    VERSION_LABEL,
    container_labels,
    to_docker_label_key,
)


def test_namespaced_keys_are_reversed() -> None:
    assert to_docker_label_key("a.b.c/key") == "c.b.a.key"
    assert to_docker_label_key("launchbay.io/flow-run-id") == "io.launchbay.flow-run-id"
    assert to_docker_label_key("example.com/team/sub") == "com.example.team/sub"


def test_other_keys_are_kept() -> None:
    assert to_docker_label_key("team") == "team"
    assert to_docker_label_key("com.example.team") == "com.example.team"


def test_launchbay_labels_are_added_and_cannot_be_overridden() -> None:
    labels = container_labels({"launchbay.io/managed": "no", "owner": "me"})
    assert labels["owner"] == "me"
    assert labels[MANAGED_LABEL] == "true"
    assert labels[VERSION_LABEL] == __version__


def test_a_flow_run_version_label_is_kept() -> None:
    assert container_labels({"launchbay.io/version": "9.9"})[VERSION_LABEL] == "9.9"
