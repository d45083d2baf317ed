"""Memory sizes (mem_limit, memswap_limit)."""

from __future__ import annotations

import pytest

from launchbay._internal.docker.memory import parse_bytes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, 1024),
        (1.5e9, 1_500_000_000),
        ("2048", 2048),
        ("8m", 8 << 20),
        ("8M", 8 << 20),
        ("8mb", 8 << 20),
        ("1g", 1 << 30),
        ("1.5g", int(1.5 * (1 << 30))),
        ("512k", 512 << 10),
        ("100b", 100),
        ("512Mi", 512 << 20),  # a Kubernetes binary quantity means the same
        ("2Gi", 2 << 30),
        ("2GiB", 2 << 30),
        ("64Ki", 64 << 10),
    ],
)
def test_sizes(value: object, expected: int) -> None:
    assert parse_bytes(value) == expected  # type: ignore[arg-type]


def test_unlimited_only_where_allowed() -> None:
    assert parse_bytes(-1, allow_unlimited=True) == -1
    assert parse_bytes("-1", allow_unlimited=True) == -1
    with pytest.raises(ValueError, match="negative"):
        parse_bytes(-1)


@pytest.mark.parametrize(
    "value", ["lots", "8x", "1gg", "", True, "2i", "1ib", "bi", float("nan"), float("inf")]
)
def test_invalid_sizes_say_what_is_expected(value: object) -> None:
    with pytest.raises(ValueError, match="Invalid memory size"):
        parse_bytes(value)  # type: ignore[arg-type]


def test_the_message_names_what_is_sized() -> None:
    with pytest.raises(ValueError, match="Invalid shm size 'lots'"):
        parse_bytes("lots", what="shm size")
