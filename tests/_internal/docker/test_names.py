"""Container names under Docker's rules (SPEC 6)."""

from __future__ import annotations

import re

import pytest

from launchbay._internal.docker.names import MAX_LENGTH, numbered_name, slugify_container_name

DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_flow_run", "flow_run"),
        ("...flow_run", "flow_run"),
        ("._-flow_run", "flow_run"),
        ("-flow.run", "flow.run"),
        ("flow*run", "flow-run"),
        ("flow9.-foo_bar^x", "flow9.-foo_bar-x"),
        ("Flow Run", "Flow-Run"),  # case kept
        ("flow  **run", "flow-run"),  # a run of invalid characters is one dash
    ],
)
def test_slugify_follows_dockers_rules(name: str, expected: str) -> None:
    assert slugify_container_name(name) == expected
    assert DOCKER_NAME.match(expected)


@pytest.mark.parametrize("name", ["--__....", "", None, "***"])
def test_a_name_with_nothing_valid_lets_docker_pick(name: str | None) -> None:
    assert slugify_container_name(name) is None


def test_long_names_are_cut_to_250_characters() -> None:
    assert slugify_container_name("a" * 300) == "a" * MAX_LENGTH


def test_numbered_names_stay_within_the_limit() -> None:
    assert numbered_name("job", 0) == "job"
    assert numbered_name("job", 1) == "job-1"
    assert numbered_name("job", 12) == "job-12"
    long = "b" * MAX_LENGTH
    assert numbered_name(long, 3) == "b" * (MAX_LENGTH - 2) + "-3"
    assert len(numbered_name(long, 123)) == MAX_LENGTH
