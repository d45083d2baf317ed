"""Job name and label slugs (SPEC 7.5)."""

from __future__ import annotations

import re

import pytest

from launchbay._internal.kubernetes import slugs


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("infra9.-foo_bar^x", "infra9-foo-bar-x"),
        ("_infra_run", "infra-run"),
        ("MyFlow.Run", "myflow-run"),
        ("a" * 60, "a" * 45),
        ("--__....", ""),
        ("a" * 44 + "_b", "a" * 44),  # cut at 45, then no trailing dash
        ("a-$@*-b", "a-b"),
    ],
)
def test_job_name(name: str, expected: str) -> None:
    assert slugs.job_name(name) == expected


def test_job_name_is_always_a_valid_dns_label_prefix() -> None:
    for name in ["x" * 100, "Ünïcödé name!", "9lives", "UPPER_case", "a.b.c"]:
        slug = slugs.job_name(name)
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", slug), slug
        assert len(slug) <= 45


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("launchbay.io/flow-run-id", "launchbay.io/flow-run-id"),
        ("Example.COM/Some Key", "example.com/Some-Key"),  # prefix lower-cased, name keeps case
        ("_under.score_/_name_", "under.score/name"),
        ("plain_Key", "plain_Key"),
        ("x/" + "n" * 70, "x/" + "n" * 63),
        ("p" * 300 + "/n", "p" * 253 + "/n"),
        ("///", "///"),  # nothing left: the original, so Kubernetes reports it
        # The prefix ends at the FIRST slash; later ones are invalid name characters.
        ("example.com/app/x", "example.com/app-x"),
        ("Example.com/a/b/c", "example.com/a-b-c"),
        # An empty prefix is dropped.
        ("/name", "name"),
        ("/Some Key", "Some-Key"),
        # A run of invalid characters swallows the dashes beside it: no "--".
        ("a-$@*-b", "a-b"),
        ("team-$.io/a-$@*-b", "team-.io/a-b"),
        ("a--b", "a--b"),  # written by the user, not made by the replacement
        ("x/???", "x/???"),  # the name slugifies to nothing: the original key
    ],
)
def test_label_key(key: str, expected: str) -> None:
    assert slugs.label_key(key) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-11-10T16:50:59.5Z", "2022-11-10T16-50-59.5Z"),
        ("Hello World", "Hello-World"),
        ("-._edge_.-", "edge"),
        ("v" * 80, "v" * 63),
        ("", ""),
        ("???", "???"),  # nothing left: the original
        ("a-$@*-b", "a-b"),
        ("a -- b", "a-b"),
        ("a_-$-_b", "a_-_b"),  # only the dashes beside the run go
    ],
)
def test_label_value(value: str, expected: str) -> None:
    assert slugs.label_value(value) == expected
