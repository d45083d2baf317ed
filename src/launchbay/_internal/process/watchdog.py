"""Stopping a supervisor's runs when the supervisor dies, even by SIGKILL.

Each supervising process starts one small watchdog process (lazily, before its
first run) and keeps the write end of a pipe to it. The supervisor tells it
about each run on the pipe ("+" before the spawn, "=" with the leader's pid
after, "-" at the end). When the supervisor dies, however it dies, the kernel
closes the pipe: the watchdog reads end of file, stops every run that had no
"-", removes their temporary directories and registry files, and exits. The
watchdog is its own session, so a closed terminal or a Ctrl+C meant for the
supervisor does not reach it. On start it also sweeps what earlier
supervisors that died left behind (their cgroups, run directories, registry
files).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Any

from launchbay._internal.process import containment, procfs, registry

_WORKDIR_PREFIX = "launchbay-"


def process_key(pid: int) -> str | None:
    """``<pid>@<start ticks>`` of a live process, or None."""
    stat = procfs.read_stat(pid)
    return None if stat is None or not stat.running else f"{pid}@{stat.start_ticks}"


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
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # A forked child must not keep our pipe open (the watchdog would never
        # see our death) nor write to it.
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._popen, self._fd, self._owner = None, -1, -1

    def ensure(self, supervisor: str) -> None:
        if self._owner == os.getpid() and self._popen is not None and self._popen.poll() is None:
            return
        with self._lock:
            if self._owner == os.getpid() and self._popen is not None and self._popen.poll() is None:
                return
            self._start(supervisor)

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

    def send(self, op: str, payload: dict[str, Any] | str) -> None:
        if self._fd < 0 or self._owner != os.getpid():
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        with contextlib.suppress(OSError):
            os.write(self._fd, f"{op} {text}\n".encode())

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid


WATCHDOG = Watchdog()


# --- the watchdog process -------------------------------------------------------------------


def _stop(run: dict[str, Any]) -> None:
    mechanism = run.get("containment", "session")
    pid, start = run.get("pid"), run.get("start")
    scope = containment.scope_for(
        mechanism, run.get("cgroup"), run.get("token"), int(pid or 0), int(start or 0)
    )
    with contextlib.suppress(OSError):
        scope.kill()
    scope.release()
    workdir = run.get("workdir")
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    if pid is not None and start is not None:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(registry.runtime_dir(), "runs", f"{pid}@{start}"))


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


def _sweep_cgroups(supervisor_alive: Any) -> None:
    for version, root in _cgroup_roots():
        try:
            supervisors = os.listdir(root)
        except OSError:
            continue
        for name in supervisors:
            base = os.path.join(root, name)
            if not os.path.isdir(base) or supervisor_alive(name):
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


def sweep_stale() -> None:
    """Clean up after supervisors that died: their runs' trees, cgroups,
    temporary directories and registry files."""
    for path, entry in registry.entries():
        if entry is None or _alive(entry.supervisor):
            continue
        _stop(
            {
                "containment": entry.containment,
                "cgroup": entry.cgroup,
                "token": entry.token,
                "pid": entry.pid,
                "start": entry.start_ticks,
                "workdir": entry.workdir,
            }
        )
        with contextlib.suppress(OSError):
            os.unlink(path)
    _sweep_cgroups(_alive)
    tmp = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(tmp):
            # launchbay-<supervisor pid>@<start>-<random>: a dead supervisor's run dir
            if not name.startswith(_WORKDIR_PREFIX) and not name.startswith("." + _WORKDIR_PREFIX):
                continue
            key = name.lstrip(".")[len(_WORKDIR_PREFIX) :].split("-", 1)[0]
            if "@" in key and not _alive(key):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


def main() -> None:
    import signal

    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)
    supervisor = sys.argv[1] if len(sys.argv) > 1 else ""
    runs: dict[str, dict[str, Any]] = {}
    sweeper = threading.Thread(target=_quietly, args=(sweep_stale,), daemon=True)
    sweeper.start()
    for line in sys.stdin.buffer:
        op, _, text = line.decode(errors="replace").rstrip("\n").partition(" ")
        if op == "-":
            runs.pop(text, None)
            continue
        with contextlib.suppress(ValueError):
            data = json.loads(text)
            if op == "+":
                runs[data["key"]] = data
            elif op == "=" and data["key"] in runs:
                runs[data["key"]].update(data)
    # End of file: the supervisor is gone (or done, with nothing left running).
    for run in runs.values():
        _quietly(_stop, run)
    if supervisor:
        _quietly(_sweep_cgroups, lambda name: name != supervisor)
    sweeper.join(timeout=30)


def _quietly(function: Any, *args: Any) -> None:
    with contextlib.suppress(Exception):
        function(*args)


if __name__ == "__main__":
    main()
