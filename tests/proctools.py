"""Helpers for tests that watch real processes."""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie awaiting its parent does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def wait_for_file(path: Path, timeout: float = 20) -> str:
    """The stripped text of ``path`` once a process has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


TREE_SCRIPT = str(Path(__file__).with_name("process_trees.py"))
MODES = ("cgroup-v2", "cgroup-v1", "session")
ROUTES_COUNT = 5  # process_trees.ROUTES


def tree_command(
    pids_file: Path, *routes: str, ignore_term: bool = False, note_signals: bool = False
) -> list[str]:
    """The command of a tree that tries every way out of its run (see process_trees.py)."""
    import sys

    flags = [*(["--ignore-term"] if ignore_term else []), *(["--note-signals"] if note_signals else [])]
    return [sys.executable, TREE_SCRIPT, str(pids_file), *routes, *flags]


def noted_signals(pids_file: Path) -> dict[str, str]:
    """``{route: signal name}`` the members of a ``note_signals`` tree received."""
    path = Path(str(pids_file) + ".signals")
    if not path.exists():
        return {}
    return {route: name for name, route in (line.split() for line in path.read_text().splitlines() if line)}


def wait_for_tree(pids_file: Path, members: int, timeout: float = 20) -> dict[str, int]:
    """``{route: pid}`` once ``members`` processes (the leader included) have
    written their line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pids_file.exists():
            lines = [line.split() for line in pids_file.read_text().splitlines() if line.strip()]
            if len(lines) >= members:
                return {route: int(pid) for route, pid in lines}
        time.sleep(0.02)
    raise AssertionError(
        f"the tree never reached {members} members: {pids_file.read_text() if pids_file.exists() else ''}"
    )


def gone_soon(pids: list[int] | dict[str, int], timeout: float = 10) -> list[int]:
    """The pids still alive after waiting up to ``timeout`` for all to end
    (empty when all are gone). Not a timing assertion: a ceiling."""
    wanted = list(pids.values()) if isinstance(pids, dict) else list(pids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in wanted if alive(pid)]
        if not left:
            return []
        time.sleep(0.02)
    return [pid for pid in wanted if alive(pid)]
