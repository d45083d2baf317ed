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
    ],
)
def test_sizes(value: object, expected: int) -> None:
    assert parse_bytes(value) == expected  # type: ignore[arg-type]


def test_unlimited_only_where_allowed() -> None:
    assert parse_bytes(-1, allow_unlimited=True) == -1
    assert parse_bytes("-1", allow_unlimited=True) == -1
    with pytest.raises(ValueError, match="negative"):
        parse_bytes(-1)


@pytest.mark.parametrize("value", ["lots", "8x", "1gg", "", True])
def test_invalid_sizes_say_what_is_expected(value: object) -> None:
    with pytest.raises(ValueError, match="Invalid memory size"):
        parse_bytes(value)  # type: ignore[arg-type]
