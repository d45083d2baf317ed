"""The CLI's signal policy (SPEC 13) on the fast and the full path, with real
process trees that try to escape: the first signal is forwarded, a second one
kills the tree at once, the grace kills it otherwise; Ctrl+Z and fg work in a
terminal; a supervisor killed by SIGKILL takes its run with it."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proctools import ROUTES_COUNT, gone_soon, noted_signals, tree_command, wait_for_tree

pytestmark = pytest.mark.slow

FULL_CLI = "import sys; from launchbay.cli.app import build_app; build_app()(args=sys.argv[1:], prog_name='launchbay')"
PATHS = ("fast", "full")


def launchbay(path: str, *args: str) -> list[str]:
    """The command line of ``launchbay ARGS`` through the fast path (the real
    entry point) or straight through the full typer CLI."""
    if path == "fast":
        return [sys.executable, "-m", "launchbay.cli", *args]
    return [sys.executable, "-c", FULL_CLI, *args]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    launched: list[subprocess.Popen[bytes]] = []
    yield launched
    for proc in launched:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _start(launched: list[subprocess.Popen[bytes]], command: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    launched.append(proc)
    return proc


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_the_first_signal_is_forwarded_to_the_whole_tree(
    path: str, signum: int, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    pids_file = tmp_path / "pids"
    proc = _start(started, launchbay(path, "run", "--", *tree_command(pids_file, note_signals=True)))
    members = wait_for_tree(pids_file, ROUTES_COUNT + 1)
    proc.send_signal(signum)
    assert proc.wait(30) == 128 + signum
    assert gone_soon(members) == []
    # the same signal (SIGINT as SIGINT), to every member
    assert noted_signals(pids_file) == {route: signal.Signals(signum).name for route in members}


@pytest.mark.parametrize("path", PATHS)
def test_a_second_signal_kills_a_tree_that_ignores_the_first(
    path: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    pids_file = tmp_path / "pids"
    command = launchbay(path, "run", "--grace", "600", "--", *tree_command(pids_file, ignore_term=True))
    proc = _start(started, command)
    members = wait_for_tree(pids_file, ROUTES_COUNT + 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # waiting out the grace: nothing abandoned
    assert gone_soon(members, timeout=0.2) != []
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 128 + signal.SIGINT  # long before the 600 s grace
    assert gone_soon(members) == []
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "received SIGINT again; killing the run now" in err and "Traceback" not in err


@pytest.mark.parametrize("path", PATHS)
def test_the_grace_ends_with_a_kill(
    path: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    pids_file = tmp_path / "pids"
    command = launchbay(path, "run", "--grace", "1", "--", *tree_command(pids_file, ignore_term=True))
    proc = _start(started, command)
    members = wait_for_tree(pids_file, ROUTES_COUNT + 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 128 + signal.SIGTERM
    assert gone_soon(members) == []


@pytest.mark.parametrize(
    ("path", "mode"), [(p, "auto") for p in PATHS] + [("fast", "session"), ("fast", "cgroup-v1")]
)
def test_a_supervisor_killed_by_sigkill_takes_its_run_with_it(
    path: str, mode: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    pids_file = tmp_path / "pids"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        launchbay(path, "run", "--", *tree_command(pids_file, ignore_term=True)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(tmp), "LAUNCHBAY_CONTAINMENT": mode},
    )
    started.append(proc)
    members = wait_for_tree(pids_file, ROUTES_COUNT + 1)
    assert [p.name for p in tmp.iterdir() if p.name.startswith("launchbay-")]  # its working directory
    registry_files = _registry_files_of(proc.pid)
    assert registry_files  # its run's registry file
    proc.kill()
    proc.wait()
    assert gone_soon(members, timeout=5) == []
    deadline = time.monotonic() + 5
    while any(path.exists() for path in registry_files) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [path for path in registry_files if path.exists()] == []
    deadline = time.monotonic() + 5
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []  # the run's temporary directory went too


def _registry_files_of(supervisor_pid: int) -> list[Path]:
    import json

    from launchbay._internal.process import registry

    runs = Path(registry.runtime_dir()) / "runs"
    found = []
    for path in runs.iterdir() if runs.is_dir() else ():
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and str(entry.get("supervisor", "")).startswith(f"{supervisor_pid}@"):
            found.append(path)
    return found


def test_a_second_interrupt_in_the_async_api_kills_the_tree(tmp_path: Path) -> None:
    """``await Process(...).run()`` in a program: Ctrl+C cancels the run (its
    grace starts); a second Ctrl+C during the grace kills the tree at once."""
    pids_file = tmp_path / "pids"
    program = (
        "import anyio, sys\n"
        "from launchbay import Process\n"
        f"anyio.run(Process(command={tree_command(pids_file, ignore_term=True)!r}).arun)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.DEVNULL)
    try:
        members = wait_for_tree(pids_file, ROUTES_COUNT + 1)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None  # the cancel grace (10 s) is running
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        assert gone_soon(members) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


class Terminal:
    """The master side of a pty, read with a buffer: what one wait reads past
    its match is kept for the next."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_until(self, wanted: bytes, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while wanted not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{wanted!r} never came; the terminal showed {self.pending[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    self.pending += os.read(self.fd, 65536)
                except OSError:
                    break
        end = self.pending.index(wanted) + len(wanted)
        seen, self.pending = self.pending[:end], self.pending[end:]
        return seen

    def quiet_for(self, word: bytes, seconds: float) -> bool:
        """Whether ``word`` stays off the terminal for ``seconds`` (from now)."""
        self.pending = b""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                self.pending += os.read(self.fd, 65536)
        return word not in self.pending


@pytest.mark.parametrize("mode", ["cgroup-v2", "session"])
def test_ctrl_z_stops_the_run_with_launchbay_and_fg_resumes_both(mode: str, tmp_path: Path) -> None:
    """In a real terminal: an interactive shell, job control, ^Z and fg."""
    ticker = tmp_path / "tick.sh"
    ticker.write_text("i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.1; done\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive shell on the terminal
        os.environ["LAUNCHBAY_CONTAINMENT"] = mode
        os.environ["PS1"] = "PROMPT$ "
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    terminal = Terminal(fd)
    try:
        terminal.read_until(b"PROMPT$ ")
        terminal.write(f"{sys.executable} -m launchbay.cli run -q -- sh {ticker}\n".encode())
        terminal.read_until(b"tick3")
        terminal.write(b"\x1a")  # Ctrl+Z
        terminal.read_until(b"Stopped")
        terminal.read_until(b"PROMPT$ ")
        assert terminal.quiet_for(b"tick", 1.0)  # nothing prints over the prompt
        terminal.write(b"fg\n")
        terminal.read_until(b"\ntick")  # running again (a new tick line, not the echoed command)
        terminal.write(b"\x03")  # Ctrl+C
        terminal.read_until(b"PROMPT$ ")
        terminal.write(b"echo status=$?\n")
        terminal.read_until(b"status=130")  # 128 + SIGINT
        terminal.write(b"exit\n")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    done = subprocess.run(["pgrep", "-f", str(ticker)], capture_output=True, text=True)
    assert done.stdout.strip() == ""
