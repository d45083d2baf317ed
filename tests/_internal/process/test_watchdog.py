"""The supervisor's watchdog: started once, started again if it dies, and
its sweep finds a dead supervisor's runs by its key alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launchbay import Process
from launchbay._internal.process import procfs, watchdog
from launchbay._internal.process.watchdog import WATCHDOG

pytestmark = pytest.mark.slow


def test_a_watchdog_that_died_is_started_again_before_the_next_run() -> None:
    assert Process(command=["true"], stream_output=False).run().status_code == 0
    first = WATCHDOG.pid
    assert first is not None and procfs.process_key(first) is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (stat := procfs.read_stat(first)) is not None and stat.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Process(command=["true"], stream_output=False).run().status_code == 0
    second = WATCHDOG.pid
    assert second is not None and second != first
    assert procfs.process_key(second) is not None  # alive, watching us again


def test_the_sweep_of_a_dead_supervisor_finds_its_session_runs_by_their_marker(tmp_path: Path) -> None:
    # A process carrying the marker of a supervisor that is gone (no registry
    # file, no message to any watchdog) is stopped by that supervisor's sweep.
    key = "999999@1"
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, "LAUNCHBAY__RUN_TOKEN": f"{key}.7"},
        start_new_session=True,
    )
    try:
        watchdog.sweep_supervisor(key, sessions=True)
        # Killed (and reaped here: the sweep reaps what it killed among its own children).
        stat = procfs.read_stat(orphan.pid)
        assert stat is None or not stat.running
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
