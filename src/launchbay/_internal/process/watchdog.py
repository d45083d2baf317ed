"""Stopping a supervisor's runs when the supervisor dies, even by SIGKILL.

Each supervising process starts one small watchdog process (lazily, before its
first run) and keeps the write end of a pipe to it. Nothing is written per run:
when the supervisor dies, however it dies, the kernel closes the pipe, and the
watchdog reads end of file and sweeps everything of that supervisor that is
left. Everything of a run carries its supervisor's key (``<pid>@<start>``): its
cgroup (``.../launchbay/<key>/run-N``), its registry file (which names the
supervisor), its temporary directory (``launchbay-<key>-...``) and, with
session containment, the marker in its processes' environment
(``<key>.N``). So 10,000 runs cost the watchdog nothing until the end, and
the sweep finds runs in every state, even one caught mid-start. The
supervisor says once that it uses session containment (the only sweep that
reads every process's environment).

The watchdog is its own session, so a closed terminal or a Ctrl+C meant for
the supervisor does not reach it. On start it also sweeps what earlier
supervisors that died left behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from launchbay._internal.process import containment, procfs, registry, workdir

_WORKDIR_PREFIX = "launchbay-"


def _alive(key: str) -> bool:
    pid, _, start = key.partition("@")
    if not pid.isdigit():
        return False
    stat = procfs.read_stat(int(pid))
    return stat is not None and stat.running and str(stat.start_ticks) == start


class Watchdog:
    """The supervisor's side: starts the watchdog and writes to its pipe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._popen: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._owner = -1
        self._told: set[str] = set()  # what the watchdog was told (once each)
        self._poller: select.poll | None = None  # watches our end of the pipe
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # A forked child must not keep our pipe open (the watchdog would never
        # see our death) nor write to it.
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._popen, self._fd, self._owner = None, -1, -1
        self._told = set()
        self._poller = None

    def ensure(self, supervisor: str) -> None:
        if self._owner == os.getpid() and self._listening():
            return
        with self._lock:
            if self._owner == os.getpid() and self._listening():
                return
            if self._popen is not None:
                with contextlib.suppress(OSError):
                    self._popen.poll()  # reap a watchdog that died
            self._start(supervisor)

    def _listening(self) -> bool:
        """Whether the watchdog still holds its end of the pipe: a closed read
        end shows as an error on ours (one non-blocking poll, no wait)."""
        if self._fd < 0:
            return False
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._fd, 0)
        return not self._poller.poll(0)

    def _start(self, supervisor: str) -> None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        # The directory that holds the launchbay package: -I -S (a fast, isolated
        # start) leaves it off sys.path for editable and source installs.
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        code = (
            f"import sys; sys.path.insert(0, {package_parent!r}); "
            "from launchbay._internal.process.watchdog import main; main()"
        )
        try:
            popen = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", code, supervisor],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                cwd="/",
            )
        except OSError:
            os.close(write_end)
            return  # runs still work; they just lose this guarantee
        finally:
            os.close(read_end)
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._popen, self._fd, self._owner = popen, write_end, os.getpid()
        self._told = set()  # a new watchdog knows nothing yet
        self._poller = None

    def tell(self, fact: str) -> None:
        """Tell the watchdog something about this supervisor, once
        (``session``: it uses session containment)."""
        if fact in self._told or self._fd < 0 or self._owner != os.getpid():
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, f"{fact}\n".encode())
            self._told.add(fact)

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid


WATCHDOG = Watchdog()


# --- the watchdog process -------------------------------------------------------------------


def _stop(entry: registry.RunEntry) -> None:
    """Stop one run a registry file names, and remove what it left."""
    scope = containment.scope_for(entry.containment, entry.cgroup, entry.token, entry.pid, entry.start_ticks)
    with contextlib.suppress(OSError):
        scope.kill()
    scope.release()
    if entry.workdir:
        _remove_tree(entry.workdir)


def _remove_tree(path: str) -> None:
    import shutil  # here: the supervisor's side never needs it

    shutil.rmtree(path, ignore_errors=True)


def _cgroup_roots() -> list[tuple[int, str]]:
    v2, freezer = containment.cgroup_mounts()
    roots = []
    for version, mount in ((2, v2), (1, freezer)):
        if mount is None:
            continue
        own = procfs.cgroups_of("self").get("" if version == 2 else "freezer")
        if own is not None:
            roots.append((version, os.path.join(os.path.normpath(mount + own), containment.CGROUP_DIR)))
    return roots


def _sweep_cgroups(gone: Callable[[str], bool]) -> None:
    """Kill and remove the run cgroups of every supervisor ``gone`` names."""
    for version, root in _cgroup_roots():
        try:
            supervisors = os.listdir(root)
        except OSError:
            continue
        for name in supervisors:
            base = os.path.join(root, name)
            if not os.path.isdir(base) or not gone(name):
                continue
            for run in os.listdir(base):
                path = os.path.join(base, run)
                if os.path.isdir(path):
                    scope = containment.CgroupScope(path, version)
                    with contextlib.suppress(OSError):
                        scope.kill()
                    scope.release()
            with contextlib.suppress(OSError):
                os.rmdir(base)


def _sweep_workdirs(gone: Callable[[str], bool]) -> None:
    """Remove the temporary run directories of every supervisor ``gone`` names:
    ``launchbay-<supervisor>-<random>`` (and ones renamed for removal)."""
    tmp = workdir.temporary_root()
    with contextlib.suppress(OSError):
        for name in os.listdir(tmp):
            if not name.startswith(_WORKDIR_PREFIX) and not name.startswith("." + _WORKDIR_PREFIX):
                continue
            key = name.lstrip(".")[len(_WORKDIR_PREFIX) :].split("-", 1)[0]
            if "@" in key and gone(key):
                _remove_tree(os.path.join(tmp, name))


def sweep_supervisor(supervisor: str, *, sessions: bool) -> None:
    """Everything of ``supervisor``'s runs, now that it is gone: their trees,
    cgroups, registry files and temporary directories. ``sessions``: it used
    session containment (its runs' processes carry its marker)."""
    own = [(path, entry) for path, entry in registry.entries() if entry and entry.supervisor == supervisor]
    if sessions:
        leaders = [(entry.pid, entry.start_ticks) for _, entry in own if entry.containment == "session"]
        with contextlib.suppress(OSError):
            containment.SupervisorSessions(supervisor, leaders).kill()
    _sweep_cgroups(lambda name: name == supervisor)
    for path, entry in own:
        if entry.workdir:
            _remove_tree(entry.workdir)
        registry.remove_entry_files(path)
    _sweep_workdirs(lambda key: key == supervisor)


def sweep_stale() -> None:
    """Clean up after supervisors that died: their runs' trees, cgroups,
    temporary directories and registry files."""
    for path, entry in registry.entries():
        if entry is None or _alive(entry.supervisor):
            continue
        _stop(entry)
        registry.remove_entry_files(path)
    _sweep_cgroups(lambda name: not _alive(name))
    _sweep_workdirs(lambda key: not _alive(key))


def main() -> None:
    import signal

    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)
    supervisor = sys.argv[1] if len(sys.argv) > 1 else ""
    sweeper = threading.Thread(target=_quietly, args=(sweep_stale,), daemon=True)
    sweeper.start()
    told = {line.strip().decode(errors="replace") for line in sys.stdin.buffer}
    # End of file: the supervisor is gone (or done, with nothing left running).
    if supervisor:
        _quietly(lambda: sweep_supervisor(supervisor, sessions="session" in told))
    sweeper.join(timeout=30)


def _quietly(function: Any, *args: Any) -> None:
    with contextlib.suppress(Exception):
        function(*args)


if __name__ == "__main__":
    main()
