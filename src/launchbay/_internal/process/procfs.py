"""What /proc says about processes, each file read once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple


class ProcStat(NamedTuple):
    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start_ticks: int  # clock ticks after boot: with the pid, names one process

    @property
    def running(self) -> bool:
        """Alive and not a zombie waiting for its parent."""
        return self.state not in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """A process's stat line, read once; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after
    # its last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode(),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            sid=int(fields[3]),
            start_ticks=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def snapshot() -> dict[int, ProcStat]:
    """Every live process, by pid."""
    table = {}
    for pid in pids():
        stat = read_stat(pid)
        if stat is not None:
            table[pid] = stat
    return table


def environ_value(pid: int, key: bytes) -> bytes | None:
    """The value of ``key`` in the environment the process was started with;
    None when it has none or it cannot be read (another user's, or gone)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = b"\0" + handle.read()
    except OSError:
        return None
    at = data.find(b"\0" + key + b"=")
    if at < 0:
        return None
    start = at + len(key) + 2
    end = data.find(b"\0", start)
    return data[start:] if end < 0 else data[start:end]


def own_children() -> set[int]:
    """The pids of this process's children (adopted orphans included)."""
    children: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return children
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                children.update(int(pid) for pid in handle.read().split())
        except OSError:
            continue
    return children


def cgroups_of(pid: int | str) -> dict[str, str]:
    """The process's cgroup per hierarchy: ``{"": "/a/b"}`` for cgroup v2 and
    ``{"freezer": "/x"}`` for v1 controllers."""
    found: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if not controllers:
            found[""] = path
        for controller in controllers.split(","):
            if controller:
                found[controller] = path
    return found


def process_key(pid: int) -> str | None:
    """``<pid>@<start ticks>`` of a live process, or None."""
    stat = read_stat(pid)
    return None if stat is None or not stat.running else f"{pid}@{stat.start_ticks}"
