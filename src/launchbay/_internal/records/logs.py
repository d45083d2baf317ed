"""The log file of a detached process run: ``LAUNCHBAY_HOME/runs/<id>.log``.

The run's stdout and stderr go to one pipe (so their order is kept, as
``2>&1`` keeps it), which the run's supervisor copies to the log. Growth is
bounded: once the log holds ``LOG_MAX_BYTES``, it becomes ``<id>.log.1``
(replacing an older one) and a new ``<id>.log`` begins, so a run keeps at
most twice that on disk: its latest output. The files are owner-only (0600,
in a 0700 directory) and are removed with the run's record.

Readers (``launchbay logs``, ``attach``) print ``.log.1`` then ``.log``; a
follower notices the switch to a new file (its inode changes) and goes on
with it after the end of the old one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

LOG_MAX_BYTES = 8 * 1024 * 1024  # per file; a run keeps at most two
ROTATED_SUFFIX = ".1"
_CHUNK = 1 << 16


def runs_directory(home: Path) -> Path:
    return home / "runs"


def log_path(home: Path, run_id: str) -> Path:
    return runs_directory(home) / f"{run_id}.log"


def home_directory() -> Path:
    """``LAUNCHBAY_HOME``, read without building the settings model."""
    from launchbay._internal.settings_source import FIELDS, normalize_home, read_environment

    return normalize_home(Path(read_environment().get("home") or FIELDS["home"][0]))


def _private_directory(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _open_new(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # also when it existed, with a laxer mode
    return fd


class CappedLog:
    """Appends to a run's log, switching to a new file every ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = LOG_MAX_BYTES) -> None:
        _private_directory(path.parent)
        self.path = path
        self.max_bytes = max_bytes
        self._fd = _open_new(path)
        self._size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = self.max_bytes - self._size
            if room <= 0:
                self._rotate()
                room = self.max_bytes
            piece = view[:room]
            written = os.write(self._fd, piece)
            self._size += written
            view = view[written:]

    def _rotate(self) -> None:
        os.replace(self.path, rotated(self.path))
        old = self._fd
        self._fd = _open_new(self.path)
        self._size = 0
        os.close(old)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ROTATED_SUFFIX)


def remove_log(path: str | None) -> None:
    """Remove a run's log files."""
    if not path:
        return
    for name in (Path(path), rotated(Path(path))):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def read_all(path: Path) -> Iterator[bytes]:
    """Everything the log holds now: the older file, then the current one."""
    for name in (rotated(path), path):
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue
        with handle:
            while chunk := handle.read(_CHUNK):
                yield chunk


class LogFollower:
    """Reads a log as it grows, across the switch to a new file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._inode: int | None = None
        self._started = False

    def _open_current(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        self._fd, self._inode = fd, os.fstat(fd).st_ino
        return True

    def read_available(self) -> Iterator[bytes]:
        """What was written since the last call (from the start the first time)."""
        if not self._started:
            self._started = True
            older = rotated(self.path)
            with contextlib.suppress(FileNotFoundError), open(older, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk
        while True:
            if self._fd < 0 and not self._open_current():
                return
            while chunk := os.read(self._fd, _CHUNK):
                yield chunk
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                return  # being switched (or removed): look again later
            if current == self._inode:
                return
            # The writer moved on to a new file; the old one has been read to its end.
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
