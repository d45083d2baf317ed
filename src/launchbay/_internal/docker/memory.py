"""Sizes as Docker's CLI writes them: ``512m``, ``1g``, ``1.5G``, bytes; the
binary suffixes of Kubernetes quantities (``512Mi``, ``1Gi``) mean the same."""

from __future__ import annotations

import math
import re

_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# A number, then b, or a unit k/m/g/t optionally followed by i and/or b (512m, 512mb, 512Mi, 512MiB).
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?|b)?\s*$", re.IGNORECASE)


def parse_bytes(value: int | float | str, *, allow_unlimited: bool = False, what: str = "memory size") -> int:
    """A size in bytes. ``-1`` (unlimited) is accepted where ``allow_unlimited``.

    Raises ``ValueError`` with the expected format on anything else; ``what``
    names the value in the message.
    """
    if isinstance(value, bool):
        raise ValueError(f"Invalid {what} {value!r}")
    if isinstance(value, (int, float)):
        if allow_unlimited and value == -1:
            return -1
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"Invalid {what} {value!r}: expected a number of bytes")
        if value < 0:
            raise ValueError(f"Invalid {what} {value!r}: it cannot be negative")
        return int(value)
    text = value.strip()
    if allow_unlimited and text == "-1":
        return -1
    match = _SIZE.match(text)
    if not match:
        raise ValueError(
            f"Invalid {what} {value!r}: expected a number of bytes, optionally "
            "followed by a unit b, k, m, g or t (for example '512m' or '1g')"
        )
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])
