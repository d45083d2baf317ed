"""Docker Engine versions (``20.10.24+dfsg1``, ``24.0.7``, ``17.06.0-ce``)."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")

# host-gateway (the host's address inside a container) arrived in Engine 20.10.
HOST_GATEWAY_MIN_VERSION = (20, 10, 0)


def parse_engine_version(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch); distribution suffixes are ignored. None when the
    string does not start with a version number."""
    match = _VERSION.match(version or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def version_tuple(api_version: str) -> tuple[int, ...]:
    """An API version (``1.41``) as a comparable tuple."""
    return tuple(int(part) for part in re.findall(r"\d+", api_version))
