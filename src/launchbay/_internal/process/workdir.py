"""A run's working directory: the one asked for, or a fresh temporary one,
removed after the run on one background thread."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any


def working_directory(stack: ExitStack, working_dir: str | None, owner: str) -> tuple[str, str | None]:
    """(the run's directory, the temporary one to clean up or None). A fresh
    temporary directory is named after its supervisor (``launchbay-<owner>-…``)
    so that one left by a supervisor that died can be told apart and swept."""
    if working_dir is None:
        path = _make_private_directory(temporary_root(), f"launchbay-{owner}-")
        stack.callback(REMOVER.remove, path)
        return path, path
    return working_dir, None


def temporary_root() -> str:
    """Where temporary directories go: ``tempfile.gettempdir()``'s choice
    (TMPDIR, TEMP, TMP, then /tmp, /var/tmp, /usr/tmp), made here because
    importing ``tempfile`` (with ``shutil`` and ``random``) would cost every
    CLI start a few milliseconds. Looked up again when those variables change."""
    names = tuple(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP"))
    found = _roots.get(names)
    if found is None:
        found = _roots[names] = _find_temporary_root(names)
    return found


_roots: dict[tuple[str | None, ...], str] = {}


def _find_temporary_root(names: tuple[str | None, ...]) -> str:
    for candidate in (*names, "/tmp", "/var/tmp", "/usr/tmp"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return os.path.abspath(candidate)
    import tempfile

    return tempfile.gettempdir()


def _make_private_directory(parent: str, prefix: str) -> str:
    """A new directory only we can enter, as ``tempfile.mkdtemp`` makes."""
    for _ in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no unused directory name under {parent!r}")


class _DirectoryRemover:
    """Removes finished runs' temporary directories on one background thread.

    Removing a directory can take milliseconds on a busy disk (ext4 frees its
    block through the journal), which would hold up every run's result and,
    on the event loop, every other run. The directory is renamed out of the way
    at once (its path is gone when the run returns) and deleted by this thread;
    what is pending at interpreter exit is finished then.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._queue: Any = None
        self._owner = -1  # the pid whose thread serves the queue (a fork needs its own)
        # False in a process that makes one run and exits (the CLI's fast path):
        # it would wait for the thread at exit anyway, so it removes in place.
        self.in_background = True

    def remove(self, path: str) -> None:
        parent, name = os.path.split(path)
        hidden = os.path.join(parent, f".{name}.removing")
        try:
            os.rename(path, hidden)
        except FileNotFoundError:
            return
        except OSError:
            remove_directory(path)  # cannot rename here: remove in place
            return
        if self.in_background:
            self._submit(hidden)
        else:
            remove_directory(hidden)

    def _submit(self, path: str) -> None:
        with self._lock:
            if self._owner != os.getpid():
                import atexit
                import queue
                import threading

                self._queue = queue.SimpleQueue()
                self._owner = os.getpid()
                threading.Thread(
                    target=self._serve, args=(self._queue,), name="launchbay-cleanup", daemon=True
                ).start()
                atexit.register(self._finish, self._queue)
            self._queue.put(path)

    @staticmethod
    def _serve(paths: Any) -> None:
        while True:
            path = paths.get()
            if isinstance(path, str):
                remove_directory(path)
            else:
                path.set()  # an Event: everything before it is done

    def _finish(self, paths: Any) -> None:
        """At exit: let the pending removals finish (within reason)."""
        import threading

        if self._owner != os.getpid():
            return
        done = threading.Event()
        paths.put(done)
        done.wait(10)


REMOVER = _DirectoryRemover()


def remove_directory(path: str) -> None:
    try:
        os.rmdir(path)  # the usual case: the run left nothing behind
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        def make_writable_and_retry(function: Callable[..., object], name: str, _: object) -> None:
            try:
                os.chmod(os.path.dirname(name), 0o700)
                if os.path.isdir(name) and not os.path.islink(name):
                    os.chmod(name, 0o700)
                function(name)
            except OSError:
                pass  # a leftover in the temporary directory beats a failed run

        shutil.rmtree(path, onerror=make_writable_and_retry)


def resolve(working_dir: str | os.PathLike[str] | None) -> str | None:
    """A working directory as an absolute path, resolved against the caller's
    directory now (the run itself may start elsewhere)."""
    if working_dir is None:
        return None
    return os.path.abspath(os.path.expanduser(str(working_dir)))
