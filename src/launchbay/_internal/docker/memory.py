"""Memory sizes as Docker's CLI writes them: ``512m``, ``1g``, ``1.5G``, bytes."""

from __future__ import annotations

import re

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$", re.IGNORECASE)


def parse_bytes(value: int | float | str, *, allow_unlimited: bool = False) -> int:
    """A size in bytes. ``-1`` (unlimited) is accepted where ``allow_unlimited``.

    Raises ``ValueError`` with the expected format on anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"Invalid memory size {value!r}")
    if isinstance(value, (int, float)):
        if allow_unlimited and value == -1:
            return -1
        if value < 0:
            raise ValueError(f"Invalid memory size {value!r}: it cannot be negative")
        return int(value)
    text = value.strip()
    if allow_unlimited and text == "-1":
        return -1
    match = _SIZE.match(text)
    if not match:
        raise ValueError(
            f"Invalid memory size {value!r}: expected a number of bytes, optionally "
            "followed by a unit b, k, m, g or t (for example '512m' or '1g')"
        )
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])
