"""Who watches a run: ``HOST:PID@START`` of a launchbay process, checkable
from any process on that host (the start time tells a reused pid apart)."""

from __future__ import annotations

import os
from enum import Enum

from launchbay._internal import pids
from launchbay._internal.process import procfs


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # on another host (a shared PostgreSQL store): cannot tell


_current: tuple[int, str] | None = None


def current() -> str:
    """This process as a supervisor."""
    global _current
    pid = os.getpid()
    if _current is None or _current[0] != pid:  # first use, or a forked child
        stat = procfs.read_stat(pid)
        start = stat.start_ticks if stat is not None else 0
        _current = (pid, f"{pids.this_host()}:{pid}@{start}")
    return _current[1]


def parse(key: str) -> tuple[str, int, int] | None:
    """(host, pid, start ticks) of a supervisor key; None when it is not one."""
    host, colon, rest = key.rpartition(":")
    pid, at, start = rest.partition("@")
    if not colon or not at or not pid.isdigit() or not start.isdigit():
        return None
    return host, int(pid), int(start)


def liveness(key: str | None) -> Liveness:
    if key is None:
        return Liveness.UNKNOWN
    parsed = parse(key)
    if parsed is None:
        return Liveness.UNKNOWN
    host, pid, start = parsed
    if host != pids.this_host():
        return Liveness.UNKNOWN
    stat = procfs.read_stat(pid)
    alive = stat is not None and stat.running and stat.start_ticks == start
    return Liveness.ALIVE if alive else Liveness.DEAD
