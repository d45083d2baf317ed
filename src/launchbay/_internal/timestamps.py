"""RFC 3339 timestamps as engines and clusters write them (nanoseconds, ``Z`` or
an offset), and the ``Z`` form launchbay writes."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_rfc3339(text: str) -> tuple[int, int]:
    """(seconds since the epoch, nanoseconds) of an RFC 3339 timestamp; digits
    past nanoseconds are dropped. ValueError when it is not one."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    return _from_match(match.groups())


def _from_match(groups: tuple[str | None, ...]) -> tuple[int, int]:
    year, month, day, hour, minute, second = (int(g or 0) for g in groups[:6])
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = groups[7] or "Z"
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    fraction = (groups[6] or "")[:9]
    return seconds, int(fraction.ljust(9, "0")) if fraction else 0


def rfc3339_nanoseconds(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp; 0 when it does not parse."""
    try:
        seconds, nanos = parse_rfc3339(text)
    except ValueError:
        return 0
    return seconds * 10**9 + nanos


def utc_z(moment: datetime) -> str:
    """``2022-11-10T16:50:59.500000Z``: UTC, ISO 8601, with a ``Z`` (a naive
    datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
