"""Live runs on this machine, one small file each, so that any process of the
same user (or root) can tell a launchbay run from any other process.

A run's file is ``<runtime dir>/runs/<pid>@<start ticks>``, written by its
supervisor right after the start and removed at the end. It holds what is
needed to reach the whole tree from another process (the containment, the
cgroup or the session token) and what to clean up if the supervisor dies (the
temporary directory). The pid and start time together name one process, so a
file left behind by a crash can never vouch for a process that reused its pid.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from typing import NamedTuple

_RUNS = "runs"
STOPPING_SUFFIX = ".stopping"  # beside a run's file: someone is stopping it, until the time inside


class RunEntry(NamedTuple):
    pid: int
    start_ticks: int
    supervisor: str  # "<pid>@<start ticks>" of the process that watches the run
    containment: str  # "cgroup-v2", "cgroup-v1" or "session"
    cgroup: str | None  # the run's cgroup directory (cgroup containment)
    token: str | None  # the session marker's value (session containment)
    workdir: str | None  # a temporary working directory to remove at the end

    @property
    def key(self) -> str:
        return f"{self.pid}@{self.start_ticks}"

    def to_json(self) -> bytes:
        fields = {
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "supervisor": self.supervisor,
            "containment": self.containment,
            "cgroup": self.cgroup,
            "token": self.token,
            "workdir": self.workdir,
        }
        return json.dumps(fields, separators=(",", ":")).encode()


_SHARED_MEMORY = "/dev/shm"


def runtime_dir(uid: int | None = None) -> str:
    """``/dev/shm/launchbay-<uid>`` (memory: a run's file costs microseconds,
    where /tmp on a disk journals each one), else ``/tmp/launchbay-<uid>``.
    The same for every shell of a user on the machine (TMPDIR and
    XDG_RUNTIME_DIR vary between sessions, cron and ssh); owner-only."""
    base = _SHARED_MEMORY if _memory_dir_usable() else "/tmp"
    return f"{base}/launchbay-{os.getuid() if uid is None else uid}"


_memory_usable: bool | None = None


def _memory_dir_usable() -> bool:
    # A world-writable sticky directory, as every Linux has (not in every
    # container, nor on other systems): looked at once per process.
    global _memory_usable
    if _memory_usable is None:
        try:
            info = os.stat(_SHARED_MEMORY)
            _memory_usable = (
                stat.S_ISDIR(info.st_mode) and info.st_mode & 0o1777 == 0o1777 and info.st_uid == 0
            )
        except OSError:
            _memory_usable = False
    return _memory_usable


def _runs_dir(uid: int | None = None, create: bool = False) -> str | None:
    base = runtime_dir(uid)
    runs = os.path.join(base, _RUNS)
    if create:
        for path in (base, runs):
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
    try:
        info = os.lstat(base)
    except OSError:
        return None
    # Never trust a directory someone else could have planted in /tmp.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != (os.getuid() if uid is None else uid):
        return None
    if info.st_mode & 0o077 and create:
        os.chmod(base, 0o700)
    return runs


class Registry:
    """The runs this process supervises, written as files (see the module)."""

    def __init__(self) -> None:
        self._dir: str | None = None

    def add(self, entry: RunEntry) -> None:
        if self._dir is None:
            self._dir = _runs_dir(create=True)
            if self._dir is None:
                return  # /tmp is unusable: runs work, other shells can't verify them
        data = entry.to_json()
        path = os.path.join(self._dir, entry.key)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def remove(self, entry: RunEntry) -> None:
        if self._dir is None:
            return
        remove_entry_files(os.path.join(self._dir, entry.key))

    def stopping_deadline(self, entry: RunEntry) -> float | None:
        """When someone stopping this run (``kill`` from any process) gives up
        waiting for it (a ``time.time()``), or None when no one is stopping it."""
        if self._dir is None:
            return None
        try:
            with open(os.path.join(self._dir, entry.key + STOPPING_SUFFIX), "rb") as handle:
                return float(handle.read())
        except (OSError, ValueError):
            return None


REGISTRY = Registry()


def remove_entry_files(path: str) -> None:
    """Remove a run's registry file and the stop note beside it, if any."""
    for name in (path, path + STOPPING_SUFFIX):
        try:
            os.unlink(name)
        except OSError:
            pass


def _parse(path: str) -> RunEntry | None:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
        return RunEntry(**data)
    except (OSError, ValueError, TypeError):
        return None


def entries_for(pid: int, uid: int | None = None) -> list[RunEntry]:
    """The entries of runs whose leader had ``pid`` (one, or stale ones a
    crashed supervisor left: the start time tells them apart)."""
    runs = _runs_dir(uid)
    if runs is None:
        return []
    prefix = f"{pid}@"
    try:
        names = [name for name in os.listdir(runs) if name.startswith(prefix) and "." not in name]
    except OSError:
        return []
    return [entry for name in names if (entry := _parse(os.path.join(runs, name)))]


def entries(uid: int | None = None) -> Iterator[tuple[str, RunEntry | None]]:
    """Every (file path, entry) in the registry; an unreadable file gives None."""
    runs = _runs_dir(uid)
    if runs is None:
        return
    try:
        names = os.listdir(runs)
    except OSError:
        return
    for name in names:
        if name.endswith(STOPPING_SUFFIX):
            continue
        path = os.path.join(runs, name)
        yield path, _parse(path)


def note_stopping(entry: RunEntry, until: float, uid: int | None = None) -> None:
    """Tell the run's supervisor that its tree is being stopped with a grace
    lasting until ``until`` (``time.time()``): if its leader exits first, the
    supervisor gives the rest of the tree that grace too instead of killing it."""
    runs = _runs_dir(uid)
    if runs is None:
        return
    try:
        with open(os.path.join(runs, entry.key + STOPPING_SUFFIX), "w") as handle:
            handle.write(repr(until))
    except OSError:
        pass
