"""A process tree that tries every way out of its run, for the supervision tests.

Run as ``python process_trees.py PIDS_FILE [ROUTE ...] [--ignore-term]``: each
route starts a process that leaves the run's process group or session in its
own way, and writes its pid to PIDS_FILE (one line each, ``route pid``); then
everything sleeps. ``--ignore-term`` makes every member ignore SIGTERM, SIGINT
and SIGHUP, so only a kill stops it; ``--note-signals`` makes each member
write ``<signal name> <route>`` to PIDS_FILE.signals when one of those
arrives, then exit.
"""

from __future__ import annotations

import os
import signal
import sys
import time

ROUTES = ("setsid", "setpgid", "double-fork", "daemon", "shell-setsid")


def _record(path: str, route: str) -> None:
    with open(path, "a") as handle:
        handle.write(f"{route} {os.getpid()}\n")


_ROUTE = "leader"


def _note_and_exit(path: str) -> object:
    def handler(signum: int, frame: object) -> None:
        with open(path + ".signals", "a") as handle:
            handle.write(f"{signal.Signals(signum).name} {_ROUTE}\n")
        os._exit(0)

    return handler


def _sleep_forever() -> None:
    while True:
        time.sleep(1000)


def _child(path: str, route: str) -> None:
    """In a forked child: leave in the way ``route`` says, record, sleep."""
    global _ROUTE
    _ROUTE = route
    if route == "setsid":
        os.setsid()
    elif route == "setpgid":
        os.setpgid(0, 0)
    elif route == "double-fork":
        os.setsid()
        if os.fork():
            os._exit(0)  # the grandchild is orphaned
    elif route == "daemon":
        os.setsid()
        if os.fork():
            os._exit(0)
        os.chdir("/")
        os.umask(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    elif route == "shell-setsid":
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL):
            _record(path, route)  # a shell cannot note signals: stand in for it
            _sleep_forever()
        os.execvp(
            "sh", ["sh", "-c", f"setsid sh -c 'echo shell-setsid $$ >> {path}; exec sleep 1000' & wait"]
        )
    _record(path, route)
    _sleep_forever()


def main() -> None:
    path, *routes = sys.argv[1:]
    if "--note-signals" in routes:
        routes.remove("--note-signals")
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, _note_and_exit(path))  # type: ignore[arg-type]
    if "--ignore-term" in routes:
        routes.remove("--ignore-term")
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # inherited by every child
    for route in routes or ROUTES:
        if os.fork() == 0:
            try:
                _child(path, route)
            finally:
                os._exit(0)
    _record(path, "leader")
    _sleep_forever()


if __name__ == "__main__":
    main()
