"""Docker Engine version parsing (host-gateway needs >= 20.10)."""

from __future__ import annotations

import pytest

from launchbay._internal.docker.engine_version import (
    HOST_GATEWAY_MIN_VERSION,
    parse_engine_version,
    version_tuple,
)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("20.10.24+dfsg1", (20, 10, 24)),
        ("20.10.0", (20, 10, 0)),
        ("24.0.7", (24, 0, 7)),
        ("17.06.0-ce", (17, 6, 0)),
        ("19.03", (19, 3, 0)),
        ("v25.0.1", (25, 0, 1)),
        ("28.2.2-1~debian.12~bookworm", (28, 2, 2)),
    ],
)
def test_versions_parse(version: str, expected: tuple[int, int, int]) -> None:
    assert parse_engine_version(version) == expected


@pytest.mark.parametrize("version", ["", "dev", "master-dockerproject"])
def test_unparsable_versions(version: str) -> None:
    assert parse_engine_version(version) is None


def test_host_gateway_threshold() -> None:
    assert parse_engine_version("20.10.24+dfsg1") >= HOST_GATEWAY_MIN_VERSION  # type: ignore[operator]
    assert parse_engine_version("19.03.15") < HOST_GATEWAY_MIN_VERSION  # type: ignore[operator]


def test_api_versions_compare_numerically() -> None:
    assert version_tuple("1.41") < version_tuple("1.45")
    assert version_tuple("1.9") < version_tuple("1.10")
