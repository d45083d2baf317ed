"""Detached process runs (``launchbay run -d``), with real processes: held by a
supervisor of their own, they outlive their launcher, keep their output in an
owner-only log, and record how they ended."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests._internal.records.fixtures import (
    database_url,  # noqa: F401 - fixture
    detach,
    gated,
    launchbay_cli,
    wait_until,
)
from tests.cli.commands import LAUNCHBAY
from tests.proctools import alive

from launchbay import runs
from launchbay._internal.exits import ExitReason
from launchbay._internal.process import procfs
from launchbay._internal.records import supervisors
from launchbay._internal.records.model import RunStatus


def supervisor_pid(run_id: str) -> int:
    record = runs.get(run_id)
    parsed = supervisors.parse(record.supervisor or "")
    assert parsed is not None
    return parsed[1]


def leader_pid(run_id: str) -> int:
    pid = runs.get(run_id).infrastructure_pid
    assert pid is not None
    return int(pid.rsplit(":", 1)[1])


def test_the_issue_s_example_on_each_store(database_url: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = detach("--", *gated(gate, "a", "b", 7))
    listed = launchbay_cli("ps")
    assert listed.returncode == 0
    assert run_id[:12] in listed.stdout and "Up " in listed.stdout
    gate.touch()
    followed = launchbay_cli("logs", "-f", run_id[:12])
    assert (followed.returncode, followed.stdout) == (0, "a\nb\n")
    waited = launchbay_cli("wait", run_id)
    assert (waited.returncode, waited.stdout) == (0, "7\n")
    record = runs.get(run_id)
    assert (record.status, record.status_code, record.exit_reason) == (RunStatus.EXITED, 7, ExitReason.EXITED)
    assert record.detached and record.kind == "process"
    assert run_id[:12] not in launchbay_cli("ps").stdout  # ps shows running runs
    assert f"{run_id[:12]}" in launchbay_cli("ps", "-a").stdout


def test_the_run_outlives_its_launcher_killed_with_its_whole_group(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    # The launcher leads a group of its own, SIGKILLed (the whole group) as soon
    # as it has printed the id, before it could exit by itself.
    launcher = subprocess.Popen(
        [LAUNCHBAY, "run", "-d", "--", *gated(gate, "first", "second", 3)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert launcher.stdout is not None
    run_id = launcher.stdout.readline().strip()
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
    assert runs.get(run_id).status is RunStatus.RUNNING
    assert alive(leader_pid(run_id))
    gate.touch()
    ended = runs.wait(run_id)
    assert (ended.status_code, ended.exit_reason) == (3, ExitReason.EXITED)
    assert launchbay_cli("logs", run_id).stdout == "first\nsecond\n"


def test_a_killed_supervisor_leaves_no_tree_and_a_lost_record(tmp_path: Path) -> None:
    run_id = detach("--", "sleep", "300")
    leader, supervisor = leader_pid(run_id), supervisor_pid(run_id)
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not alive(leader), what="the run's end after its supervisor's death")
    record = runs.get(run_id)
    assert (record.status, record.exit_reason, record.status_code) == (RunStatus.LOST, ExitReason.LOST, None)
    assert "died without recording the end" in (record.reason or "")
    waited = launchbay_cli("wait", run_id)
    assert (waited.returncode, waited.stdout.strip()) == (1, "-1")
    assert "was lost" in waited.stderr


def test_the_supervisor_passes_a_sigterm_on_and_records_a_cancelled_end(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = f"trap 'echo got TERM; exit 143' TERM; touch {ready}; while :; do sleep 0.02; done"
    run_id = detach("--", "sh", "-c", script)
    wait_until(ready.exists, what="the run's start")
    os.kill(supervisor_pid(run_id), signal.SIGTERM)
    ended = runs.wait(run_id)
    assert ended.exit_reason is ExitReason.CANCELLED and ended.status_code == 143
    assert "got TERM" in launchbay_cli("logs", run_id).stdout


def test_a_kill_by_run_id_stops_the_tree_and_is_recorded_as_a_cancel() -> None:
    run_id = detach("--", "sleep", "300")
    runs.kill(run_id, grace_seconds=5)
    ended = runs.wait(run_id)
    assert (ended.status_code, ended.exit_reason) == (-15, ExitReason.CANCELLED)


def test_a_timeout_stops_a_detached_run() -> None:
    run_id = detach("--timeout", "0.5", "--grace", "1", "--", "sleep", "300")
    ended = runs.wait(run_id)
    assert ended.exit_reason is ExitReason.TIMED_OUT and ended.status_code == -15


def test_the_supervisor_is_the_subreaper_of_its_run(tmp_path: Path) -> None:
    gate, orphan_file = tmp_path / "gate", tmp_path / "orphan"
    # The inner shell exits at once: its background sleep is orphaned.
    script = f"sh -c 'sleep 300 & echo $! > {orphan_file}'; while [ ! -e {gate} ]; do sleep 0.02; done"
    run_id = detach("--", "sh", "-c", script)
    wait_until(lambda: orphan_file.exists() and orphan_file.read_text().strip(), what="the orphan's pid")
    orphan = int(orphan_file.read_text())
    stat_ = procfs.read_stat(orphan)
    assert stat_ is not None and stat_.ppid == supervisor_pid(run_id)
    gate.touch()
    runs.wait(run_id)
    wait_until(lambda: not alive(orphan), what="the orphan's end with its run")


def test_the_log_is_owner_only_and_goes_with_the_record(launchbay_home: Path) -> None:
    run_id = detach("--", "sh", "-c", "echo out; echo err >&2")
    record = runs.wait(run_id)
    assert record.log is not None
    log = Path(record.log)
    assert log.parent == launchbay_home / "runs"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert sorted(log.read_text().splitlines()) == ["err", "out"]  # both streams, as 2>&1
    removed = launchbay_cli("rm", run_id[:12])
    assert (removed.returncode, removed.stdout.strip()) == (0, run_id)
    assert not log.exists()
    assert launchbay_cli("inspect", run_id).returncode == 1


def test_rm_refuses_a_running_run_and_force_kills_it_first() -> None:
    run_id = detach("--name", "long", "--", "sleep", "300")
    refused = launchbay_cli("rm", "long")
    assert refused.returncode == 1 and "is running" in refused.stderr
    leader = leader_pid(run_id)
    assert launchbay_cli("rm", "-f", "long").returncode == 0
    assert not alive(leader)
    assert launchbay_cli("inspect", "long").returncode == 1


def test_a_name_in_use_refuses_the_second_run_before_it_starts() -> None:
    run_id = detach("--name", "unique", "--", "true")
    runs.wait(run_id)
    refused = launchbay_cli("run", "-d", "--name", "unique", "--", "true")
    assert refused.returncode == 125 and "'unique' is already in use" in refused.stderr
    assert refused.stdout == ""
    assert [r.id for r in runs.list(all=True)] == [run_id]


def test_a_command_that_cannot_start_fails_the_launcher_and_leaves_no_record(launchbay_home: Path) -> None:
    failed = launchbay_cli("run", "-d", "--", "/no/such/command")
    assert failed.returncode == 127 and "Command not found" in failed.stderr
    assert failed.stdout == ""
    assert runs.list(all=True) == []
    assert list((launchbay_home / "runs").iterdir()) == []  # nor a log


def test_environment_labels_and_working_directory_reach_the_run(tmp_path: Path) -> None:
    run_id = detach(
        "-e", "GREETING=hello", "-l", "team=infra", "--working-dir", str(tmp_path), "--",
        "sh", "-c", 'echo "$GREETING from $(pwd)"; cat < /dev/stdin; echo end',
    )  # fmt: skip
    runs.wait(run_id)
    assert launchbay_cli("logs", run_id).stdout == f"hello from {tmp_path}\nend\n"  # stdin is /dev/null
    listed = json.loads(launchbay_cli("ps", "-a", "--json", "-l", "team=infra").stdout)
    assert [r["id"] for r in listed] == [run_id] and listed[0]["labels"] == {"team": "infra"}
    assert json.loads(launchbay_cli("ps", "-a", "--json", "-l", "team=other").stdout) == []


@pytest.mark.slow
def test_many_concurrent_detached_runs_are_all_recorded_and_waited_for() -> None:
    count = 40
    launchers = [
        subprocess.Popen(
            [LAUNCHBAY, "run", "-d", "--", "sh", "-c", f"echo run {n}; exit {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in range(count)
    ]
    ids = [launcher.communicate(timeout=300)[0].strip() for launcher in launchers]
    assert all(launcher.returncode == 0 for launcher in launchers)
    for n, run_id in enumerate(ids):
        assert runs.wait(run_id).status_code == n
        assert launchbay_cli("logs", run_id).stdout == f"run {n}\n"
    assert len(runs.list(all=True)) == count


def test_attach_follows_a_detached_run_from_the_start_and_returns_its_code(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = detach("--", *gated(gate, "one", "two", 4))
    code = (
        "import sys; from launchbay import runs\n"
        "record = runs.attach(sys.argv[1])\n"
        "print('code', record.status_code)\n"
    )
    attach = subprocess.Popen([sys.executable, "-c", code, run_id], stdout=subprocess.PIPE, text=True)
    assert attach.stdout is not None
    assert attach.stdout.readline() == "one\n"
    gate.touch()
    assert attach.communicate(timeout=60)[0] == "two\ncode 4\n"
