"""Many runs started at once from one event loop (SPEC 13, the scale issue):
the starts of a burst leave the loop room between batches, a full descriptor
table makes runs wait for others instead of failing, and a cancelled burst
leaves nothing running. Real processes, in a child interpreter where the
descriptor limit is set."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import anyio
import pytest

from launchbay import Process
from launchbay._internal.process import startgate

pytestmark = pytest.mark.slow


def _python(
    code: str, *, nofile: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    prelude = ""
    if nofile is not None:
        prelude = f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile}))\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_burst_of_starts_leaves_the_loop_room_between_batches() -> None:
    count = 300
    starts: list[int] = []
    probe_saw: list[int] = []

    async def main() -> None:
        async with anyio.create_task_group() as runs:

            async def one() -> None:
                result = await Process(command=["true"], stream_output=False).arun()
                assert result.status_code == 0

            for _ in range(count):
                runs.start_soon(one)

            async def probe() -> None:
                # Scheduled after every run's first step: it runs once the
                # gate has let a first batch through, long before the last.
                await anyio.sleep(0)
                probe_saw.append(startgate.current().running)

            runs.start_soon(probe)
        starts.append(startgate.current().running)

    anyio.run(main)
    assert probe_saw and 0 < probe_saw[0] < count
    assert starts == [0]  # every run ended and was counted out


def test_runs_beyond_the_descriptor_limit_wait_for_others_and_all_succeed() -> None:
    # 200 runs of `sleep` relaying output (a pidfd and two pipes each) under a
    # 128-descriptor limit: at most ~40 can be open at once.
    got = _python(
        """
        import anyio, io, json, logging, sys
        from launchbay import Process

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        out = io.StringIO()

        async def main():
            codes = []
            async with anyio.create_task_group() as runs:
                async def one(i):
                    job = Process(command=["sh", "-c", f"sleep 0.2; echo run {i}"])
                    codes.append((await job.arun()).status_code)
                for i in range(200):
                    runs.start_soon(one, i)
            return codes

        import contextlib
        with contextlib.redirect_stdout(out):  # no descriptor: launchbay copies each pipe
            codes = anyio.run(main)
        lines = sorted(line for line in out.getvalue().splitlines() if line.startswith("run "))
        print(json.dumps({"codes": codes, "lines": lines}))
        """,
        nofile=128,
    )
    assert got.returncode == 0, got.stderr[-2000:]
    result = json.loads(got.stdout.splitlines()[-1])
    assert result["codes"] == [0] * 200
    assert result["lines"] == sorted(f"run {i}" for i in range(200))  # none lost
    assert "open file limit (128) is reached: new runs wait" in got.stderr


def test_a_single_run_without_a_free_descriptor_fails_with_one_clear_line() -> None:
    got = _python(
        """
        import os, anyio
        from launchbay import Process
        from launchbay.exceptions import InfrastructureError

        async def main():
            keep = []
            try:
                while True:
                    keep.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            os.close(keep.pop())  # one free: not enough for a run (pipes, pidfd, cgroup file)
            try:
                await Process(command=["true"]).arun()
            except InfrastructureError as exc:
                print("error:", exc)
            finally:
                for fd in keep:
                    os.close(fd)

        anyio.run(main)
        """,
        nofile=64,
    )
    assert got.returncode == 0, got.stderr[-2000:]
    assert "error: Too many open files to start another run" in got.stdout


def test_a_burst_cancelled_while_starting_leaves_nothing_running() -> None:
    got = _python(
        """
        import anyio, json, os
        from launchbay import Process
        from launchbay._internal.process import startgate
        from launchbay._internal.process.runner import ACTIVE_SCOPES
        from launchbay._internal.process.watchdog import WATCHDOG

        async def main():
            with anyio.move_on_after(0.05):
                async with anyio.create_task_group() as runs:
                    for _ in range(500):
                        runs.start_soon(Process(command=["sleep", "30"], stream_output=False).arun)
            return startgate.current().running

        running = anyio.run(main)
        children = open(f"/proc/self/task/{os.getpid()}/children").read().split()
        children = [pid for pid in children if int(pid) != WATCHDOG.pid]
        print(json.dumps({"running": running, "scopes": len(ACTIVE_SCOPES), "children": children}))
        """
    )
    assert got.returncode == 0, got.stderr[-2000:]
    result = json.loads(got.stdout.splitlines()[-1])
    assert result == {"running": 0, "scopes": 0, "children": []}
