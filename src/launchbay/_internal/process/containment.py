"""Keeping every descendant of a run inside the run, however it tries to leave.

Three mechanisms, strongest first:

- ``cgroup-v2``: each run gets a cgroup of its own. Children land in it because
  the supervisor steps into it for the instant of the spawn (the child inherits
  its parent's cgroup, and nothing can leave a cgroup without write access to
  another one). It is killed with ``cgroup.kill`` and suspended with
  ``cgroup.freeze``, as container runtimes do.
- ``cgroup-v1``: the same with the v1 ``freezer`` controller: freeze (so nothing
  can fork while we look), SIGKILL every member, thaw.
- ``session``: no cgroup can be used. The run's members are found in /proc: its
  session and process group, every descendant by parent pid, and every process
  carrying the run's marker in its environment (set at the start and inherited,
  so it survives ``setsid``, ``setpgid`` and double forks; only a process that
  scrubs its own environment and leaves the tree escapes). Members are stopped
  with SIGSTOP until no new one appears, then killed. A CLI supervisor is also
  the child subreaper, so orphans of its run are re-parented to it.

``LAUNCHBAY_CONTAINMENT`` (``auto``, ``cgroup``, ``cgroup-v2``, ``cgroup-v1``,
``session``) forces one; ``auto`` takes the strongest that works here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from launchbay._internal.process import procfs

SESSION_MARKER = "LAUNCHBAY__RUN_TOKEN"
CHOICES = ("auto", "cgroup", "cgroup-v2", "cgroup-v1", "session")
CGROUP_DIR = "launchbay"
_KILL_WAIT_SECONDS = 5.0


class ContainmentError(Exception):
    """A mechanism cannot be used here (or failed)."""


class Scope(Protocol):
    """One run's tree."""

    mechanism: str

    def spawning(self) -> contextlib.AbstractContextManager[None]:
        """Inside this context, a new child process lands in the scope."""

    def started(self, pid: int, start_ticks: int) -> None:
        """The leader has started."""

    def members(self) -> list[int]:
        """Pids of the tree's running processes."""

    def has_members(self) -> bool:
        """Cheaply: whether anything of the tree may still run."""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every member."""

    def kill(self) -> bool:
        """SIGKILL every member, so that none can fork meanwhile; True when
        nothing remains."""

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def release(self) -> None:
        """Free what the scope holds (the cgroup) once the tree is gone."""

    @property
    def cgroup(self) -> str | None: ...

    @property
    def token(self) -> str | None: ...


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _read_pids(path: str) -> list[int]:
    try:
        with open(path, "rb") as handle:
            return [int(pid) for pid in handle.read().split()]
    except (OSError, ValueError):
        return []


def _wait(condition: object, timeout: float) -> bool:
    """Poll ``condition()`` (fast at first) until true or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while not condition():  # type: ignore[operator]
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def _kill_quietly(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


# --- cgroups -------------------------------------------------------------------------------


def cgroup_mounts() -> tuple[str | None, str | None]:
    """(cgroup2 mount point, cgroup v1 freezer mount point), from mountinfo."""
    v2 = freezer = None
    try:
        with open("/proc/self/mountinfo") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            raise  # not a verdict on the machine: the caller may retry
        return None, None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or len(extra) < 3:
            continue
        if extra[0] == "cgroup2" and v2 is None:
            v2 = fields[4]
        elif extra[0] == "cgroup" and "freezer" in extra[2].split(",") and freezer is None:
            freezer = fields[4]
    return v2, freezer


class CgroupScope:
    """A run's cgroup (v2, or v1 freezer)."""

    def __init__(self, path: str, version: int, home_fd: int | None = None) -> None:
        self.path = path
        self.version = version
        self.mechanism = f"cgroup-v{version}"
        # The supervisor's own cgroup's membership file, kept open by its
        # containment: stepping back is one write.
        self._home_fd = home_fd

    @property
    def cgroup(self) -> str | None:
        return self.path

    @property
    def token(self) -> str | None:
        return None

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        assert self._home_fd is not None
        # v2 moves whole processes; v1 can move just this thread, which is all a
        # spawn needs (the child inherits the spawning thread's cgroup).
        if self.version == 2:
            member = str(os.getpid()).encode()
        else:
            member = str(threading.get_native_id()).encode()
        fd = os.open(os.path.join(self.path, membership_file(self.version)), os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, member)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            os.write(self._home_fd, member)

    def started(self, pid: int, start_ticks: int) -> None:
        pass

    def members(self) -> list[int]:
        own = os.getpid()
        return [pid for pid in _read_pids(os.path.join(self.path, "cgroup.procs")) if pid != own]

    def has_members(self) -> bool:
        return bool(self.members())

    def signal(self, signum: int) -> None:
        for pid in self.members():
            _kill_quietly(pid, signum)

    def kill(self) -> bool:
        try:
            if self.version == 2 and os.path.exists(os.path.join(self.path, "cgroup.kill")):
                _write(os.path.join(self.path, "cgroup.kill"), "1")
            else:
                self.freeze()
                try:
                    for pid in self.members():
                        _kill_quietly(pid, signal.SIGKILL)
                finally:
                    self.thaw()
        except OSError as exc:
            if not _cgroup_gone(exc):
                raise
            return True  # removed meanwhile (its supervisor saw it empty): nothing remains
        return _wait(lambda: not self.members(), _KILL_WAIT_SECONDS)

    def freeze(self) -> None:
        try:
            if self.version == 2:
                _write(os.path.join(self.path, "cgroup.freeze"), "1")
                return
            state = os.path.join(self.path, "freezer.state")
            _write(state, "FROZEN")

            def frozen() -> bool:
                with open(state) as handle:
                    return handle.read().strip() == "FROZEN"

            if not _wait(frozen, 1.0):
                _write(state, "FROZEN")  # ask again: FREEZING can need a nudge
        except OSError as exc:
            if not _cgroup_gone(exc):
                raise

    def thaw(self) -> None:
        try:
            if self.version == 2:
                _write(os.path.join(self.path, "cgroup.freeze"), "0")
            else:
                _write(os.path.join(self.path, "freezer.state"), "THAWED")
        except OSError as exc:
            if not _cgroup_gone(exc):
                raise

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


def _cgroup_gone(exc: OSError) -> bool:
    """Whether an error on a cgroup's file says the cgroup is gone: removed
    (ENOENT) or being removed (ENODEV: its files stay open to the last
    reader), as happens when the run ends while another process stops it."""
    return exc.errno in (errno.ENOENT, errno.ENODEV)


def membership_file(version: int) -> str:
    """The file a process (v2) or a thread (v1) is moved into a cgroup with."""
    return "cgroup.procs" if version == 2 else "tasks"


class CgroupContainment:
    """Per-run cgroups under ``<own cgroup>/launchbay/<supervisor>/``."""

    def __init__(self, version: int, mount: str, supervisor: str) -> None:
        self.version = version
        self.mechanism = f"cgroup-v{version}"
        own = procfs.cgroups_of("self").get("" if version == 2 else "freezer")
        if own is None:
            raise ContainmentError(f"this process is in no cgroup v{version} hierarchy")
        self.home = os.path.normpath(mount + own)
        self.root = os.path.join(self.home, CGROUP_DIR)
        self.base = os.path.join(self.root, supervisor)
        self._count = 0
        self._home_fd = -1
        try:
            self._home_fd = os.open(
                os.path.join(self.home, membership_file(version)), os.O_WRONLY | os.O_CLOEXEC
            )
            for path in (self.root, self.base):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path)
            # We must be able to step into a child cgroup and back.
            probe = self.new_scope()
            with probe.spawning():
                pass
            probe.release()
        except OSError as exc:
            if self._home_fd >= 0:
                os.close(self._home_fd)
            if exc.errno == errno.EMFILE:
                raise
            raise ContainmentError(f"cannot manage cgroups at {self.base}: {exc.strerror or exc}") from None
        if version == 2 and not os.path.exists(os.path.join(self.root, "cgroup.freeze")):
            raise ContainmentError("this kernel's cgroup v2 has no cgroup.freeze")

    def close(self) -> None:
        """Remove this supervisor's cgroup directory when no run is in it
        (a process that only looked, like ``launchbay info``)."""
        with contextlib.suppress(OSError):
            os.rmdir(self.base)

    def new_scope(self) -> CgroupScope:
        self._count += 1
        path = os.path.join(self.base, f"run-{self._count}")
        try:
            os.mkdir(path)
        except FileNotFoundError:  # closed, or swept: make it again
            os.makedirs(path)
        return CgroupScope(path, self.version, home_fd=self._home_fd)

    def marker(self, scope: Scope) -> tuple[str, str] | None:
        return None


# --- sessions (no cgroup) ----------------------------------------------------------------------


def _session_members(leaders: list[tuple[int, int | None]], marked: Callable[[bytes], bool]) -> list[int]:
    """The running processes of session runs, from /proc: the sessions and
    process groups of ``leaders`` (while each pid still names the leader it
    was: a pid reused after the end would drag a stranger's session in), every
    process whose marker value ``marked`` accepts, and all their descendants;
    never this process or its ancestors."""
    table = procfs.snapshot()
    own = os.getpid()
    protected = {own, 1}
    parent = table.get(own)
    while parent is not None and parent.ppid not in protected and parent.ppid > 0:
        protected.add(parent.ppid)
        parent = table.get(parent.ppid)
    live_leaders = set()
    for pid, start in leaders:
        stat = table.get(pid)
        if stat is not None and stat.start_ticks == start:
            live_leaders.add(pid)
    seeds = set(live_leaders)
    if live_leaders:
        seeds.update(
            pid for pid, stat in table.items() if stat.sid in live_leaders or stat.pgid in live_leaders
        )
    for pid in table:
        if pid not in protected:
            value = procfs.environ_value(pid, _MARKER_KEY)
            if value is not None and marked(value):
                seeds.add(pid)
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, stack = set(), list(seeds)
    while stack:
        pid = stack.pop()
        if pid in found or pid in protected:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return sorted(pid for pid in found if table[pid].running)


_MARKER_KEY = SESSION_MARKER.encode()

# The leaders of the session runs this process watches: a run's end looks for
# adopted orphans among our children, and other runs' leaders are not those.
_session_leaders: set[int] = set()


class SessionScope:
    """A run's tree found in /proc (see the module)."""

    mechanism = "session"

    def __init__(self, token: str, leader: int | None = None, leader_start: int | None = None) -> None:
        self._token = token
        self._value = token.encode()
        self.leader = leader
        self.leader_start = leader_start

    @property
    def cgroup(self) -> str | None:
        return None

    @property
    def token(self) -> str | None:
        return self._token

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        yield

    def started(self, pid: int, start_ticks: int) -> None:
        self.leader, self.leader_start = pid, start_ticks
        _session_leaders.add(pid)

    def _marked(self, value: bytes) -> bool:
        return value == self._value

    def _leaders(self) -> list[tuple[int, int | None]]:
        return [] if self.leader is None else [(self.leader, self.leader_start)]

    def members(self) -> list[int]:
        return _session_members(self._leaders(), self._marked)

    def has_members(self) -> bool:
        if self.leader is not None:
            try:
                os.killpg(self.leader, 0)
                return True  # the leader's group still has a member
            except (ProcessLookupError, PermissionError):
                pass
        if not _subreaper:
            return False  # orphans went to another reaper: only members() finds them
        # Orphans of the run were re-parented to us: among our children, those
        # that are no run's leader and carry this run's marker.
        for pid in procfs.own_children() - _session_leaders:
            stat = procfs.read_stat(pid)
            if stat is not None and stat.running and procfs.environ_value(pid, _MARKER_KEY) == self._value:
                return True
        return False

    def signal(self, signum: int) -> None:
        for pid in self.members():
            _kill_quietly(pid, signum)

    def kill(self) -> bool:
        stopped: set[int] = set()
        for _ in range(100):  # stop members until a pass finds no new one
            new = [pid for pid in self.members() if pid not in stopped]
            if not new:
                break
            for pid in new:
                _kill_quietly(pid, signal.SIGSTOP)
            stopped.update(new)
        for pid in stopped:
            _kill_quietly(pid, signal.SIGKILL)
        # Orphans the run left are re-parented to us (a subreaper): reap them.
        # Never the leader: its Popen reaps it and needs its exit status.
        for pid in (stopped & procfs.own_children()) - {self.leader} - _session_leaders:
            _reap_later(pid)
        return _wait(lambda: not self.members(), _KILL_WAIT_SECONDS)

    def freeze(self) -> None:
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)

    def release(self) -> None:
        if self.leader is not None:
            _session_leaders.discard(self.leader)


class SupervisorSessions(SessionScope):
    """Every session run of one supervisor at once (its watchdog's sweep once
    it is gone): the processes carrying any of its markers (``<key>.N``) and
    the trees of the leaders its registry files name."""

    def __init__(self, supervisor: str, leaders: list[tuple[int, int]]) -> None:
        super().__init__(f"{supervisor}.")
        self._all_leaders: list[tuple[int, int | None]] = list(leaders)

    def _marked(self, value: bytes) -> bool:
        return value.startswith(self._value)

    def _leaders(self) -> list[tuple[int, int | None]]:
        return self._all_leaders


_subreaper = False


def become_subreaper() -> bool:
    """Make this process the child subreaper (Linux): orphans of its runs are
    re-parented to it instead of init, so the session sweep still finds them
    as its children. For processes that exist to supervise (the CLI, a
    detached run's supervisor), never for a library caller's program."""
    global _subreaper
    if _subreaper:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        _subreaper = False
    return _subreaper


def _reap_later(pid: int) -> None:
    """Adopted orphans of a run are our children: reap them, so that they do
    not stay zombies (never a child we did not kill)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if _wait(lambda: (procfs.read_stat(pid) or procfs.ProcStat(pid, "X", 0, 0, 0, 0)).state in "ZX", 1.0):
            os.waitpid(pid, os.WNOHANG)


class SessionContainment:
    mechanism = "session"

    def close(self) -> None:
        pass

    def __init__(self, supervisor: str) -> None:
        self._supervisor = supervisor
        self._count = 0

    def new_scope(self) -> SessionScope:
        self._count += 1
        return SessionScope(f"{self._supervisor}.{self._count}")

    def marker(self, scope: Scope) -> tuple[str, str] | None:
        assert scope.token is not None
        return SESSION_MARKER, scope.token


Containment = CgroupContainment | SessionContainment

_lock = threading.Lock()
_chosen: dict[str, Containment] = {}


def select(setting: str, supervisor: str) -> Containment:
    """The containment for ``setting`` in this process (chosen once per setting)."""
    with _lock:
        found = _chosen.get(setting)
        if found is None:
            found = _chosen[setting] = _choose(setting, supervisor)
        return found


def _choose(setting: str, supervisor: str) -> Containment:
    if setting not in CHOICES:
        raise ContainmentError(f"LAUNCHBAY_CONTAINMENT={setting!r}: use one of {', '.join(CHOICES)}")
    if setting == "session":
        return SessionContainment(supervisor)
    v2, freezer = cgroup_mounts()
    wanted = {"auto": (2, 1), "cgroup": (2, 1), "cgroup-v2": (2,), "cgroup-v1": (1,)}[setting]
    problems = []
    for version in wanted:
        mount = v2 if version == 2 else freezer
        if mount is None:
            problems.append(f"no cgroup v{version}{'' if version == 2 else ' freezer'} hierarchy is mounted")
            continue
        try:
            return CgroupContainment(version, mount, supervisor)
        except ContainmentError as exc:
            problems.append(str(exc))
    if setting == "auto":
        return SessionContainment(supervisor)
    raise ContainmentError(f"LAUNCHBAY_CONTAINMENT={setting}: " + "; ".join(problems))


def scope_for(mechanism: str, cgroup: str | None, token: str | None, pid: int, start_ticks: int) -> Scope:
    """The scope of a run another process supervises, from its registry entry."""
    if mechanism.startswith("cgroup") and cgroup:
        return CgroupScope(cgroup, 2 if mechanism == "cgroup-v2" else 1)
    scope = SessionScope(token or "", pid, start_ticks)
    return scope
