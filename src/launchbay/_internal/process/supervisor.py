"""This process as the supervisor of its runs: its key, its containment and
its watchdog, set up once. Light to import (no registry, no ``json``): the CLI
prepares them in a thread before it has loaded the rest (``prepare``)."""

from __future__ import annotations

import os

from launchbay._internal import pids
from launchbay._internal.process import containment
from launchbay._internal.process.procfs import process_key
from launchbay.exceptions import InfrastructureError

CONTAINMENT_ENV = "LAUNCHBAY_CONTAINMENT"


class Supervisor:
    """This process as the supervisor of its runs: its own id, and the
    containment it uses (chosen once per setting)."""

    def __init__(self) -> None:
        self._pid = -1
        self._key = ""
        self.host = ""
        # Set by processes that exist to supervise (the CLI): with session
        # containment they also become the child subreaper.
        self.claims_orphans = False

    @property
    def key(self) -> str:
        if self._pid != os.getpid():  # first use, or a forked child
            self.host = pids.this_host()
            key = process_key(os.getpid())
            if key is None and os.path.isdir("/proc/self"):
                return f"{os.getpid()}@0"  # /proc unreadable just now (no free descriptor): not kept
            self._pid, self._key = os.getpid(), key or f"{os.getpid()}@0"
        return self._key

    def containment(self) -> containment.Containment:
        setting = os.environ.get(CONTAINMENT_ENV, "auto").strip().lower() or "auto"
        try:
            chosen = containment.select(setting, self.key)
        except containment.ContainmentError as exc:
            raise InfrastructureError(str(exc)) from None
        if self.claims_orphans and chosen.mechanism == "session":
            containment.become_subreaper()
        return chosen


SUPERVISOR = Supervisor()


def prepare() -> None:
    """Do now what this process's first run would do first: choose its
    containment, then start its watchdog (each once; the first run finds
    them done, or waits on their locks while they are being done).

    A process's first move into a cgroup (the containment's probe) waits in
    the kernel for an RCU grace period, about 10-15 ms, so a supervisor that
    knows it will run something (the CLI) calls this in a thread while it
    loads the rest. Never while a run of this process is starting: the
    probe moves the whole process."""
    key = SUPERVISOR.key
    SUPERVISOR.containment()
    from launchbay._internal.process.watchdog import WATCHDOG

    WATCHDOG.ensure(key)
