"""Every descendant of a run belongs to it, whatever it does to leave (SPEC 13):
real process trees, in each containment mechanism this machine offers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from launchbay import ExitReason, Process
from launchbay._internal.process import containment, registry
from launchbay._internal.process.runner import containment_in_effect
from launchbay._internal.stopping import STOP_REQUEST, StopRequest
from tests.proctools import MODES, ROUTES_COUNT, alive, gone_soon, noted_signals, tree_command, wait_for_tree

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_grace() -> Iterator[None]:
    """A cancelled or timed-out run gets the default 10 s grace: keep the tests short."""
    token = STOP_REQUEST.set(StopRequest(grace_seconds=0.5))
    yield
    STOP_REQUEST.reset(token)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LAUNCHBAY_CONTAINMENT", request.param)
    assert containment_in_effect() == request.param
    return str(request.param)


def _run_tree_then(
    pids_file: Path, action: str, *, ignore_term: bool = True, note_signals: bool = False
) -> tuple[dict[str, int], object]:
    """Run the escaping tree, wait for every member, then stop it by ``action``."""
    command = tree_command(pids_file, ignore_term=ignore_term, note_signals=note_signals)
    job = Process(command=command, stream_output=False)

    async def main() -> tuple[dict[str, int], object]:
        result: object = None
        async with anyio.create_task_group() as tg:

            async def watch(*, task_status: anyio.abc.TaskStatus[str]) -> None:
                nonlocal result
                result = await job.arun(task_status=task_status)

            identifier = await tg.start(watch)
            members = await anyio.to_thread.run_sync(wait_for_tree, pids_file, ROUTES_COUNT + 1)
            if action == "kill":
                await Process().akill(identifier, grace_seconds=0.5)
                assert not [pid for pid in members.values() if alive(pid)]  # "stopped" means gone
            elif action == "cancel":
                tg.cancel_scope.cancel()
        return members, result

    return anyio.run(main)


@pytest.mark.parametrize("action", ["kill", "cancel"])
def test_no_escape_route_survives(mode: str, action: str, tmp_path: Path) -> None:
    members, _ = _run_tree_then(tmp_path / "pids", action)
    assert set(members) >= {"setsid", "setpgid", "double-fork", "daemon", "shell-setsid", "leader"}
    assert gone_soon(members) == []


def test_a_timeout_stops_the_whole_tree(mode: str, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    result = Process(command=tree_command(pids_file, ignore_term=True), timeout_seconds=1.5).run()
    assert result.exit_reason is ExitReason.TIMED_OUT
    assert "timed out after 1.5 s" in (result.reason or "")
    assert gone_soon(wait_for_tree(pids_file, ROUTES_COUNT + 1)) == []


def test_a_kill_from_another_process_stops_the_tree(mode: str, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            identifier = await tg.start(Process(command=tree_command(pids_file), stream_output=False).arun)
            members = await anyio.to_thread.run_sync(wait_for_tree, pids_file, ROUTES_COUNT + 1)
            done = await anyio.run_process(
                [sys.executable, "-m", "launchbay.cli", "kill", identifier, "--grace", "1"], check=False
            )
            assert done.returncode == 0, done.stderr
            assert b"stopped" in done.stderr
            assert [pid for pid in members.values() if alive(pid)] == []

    anyio.run(main)


def test_what_is_left_when_the_command_ends_is_stopped(mode: str, tmp_path: Path) -> None:
    """A daemon the command leaves behind goes with the run (a container's
    rule), when the supervisor can see it: always with cgroups, and with the
    session mechanism for its group and adopted orphans."""
    marker = tmp_path / "left"
    script = f"sleep 1000 & echo $! > {marker}; exit 0"
    if mode != "session":
        script = f"setsid sleep 1000 & echo $! > {marker}; exit 0"
    result = Process(command=["sh", "-c", script]).run()
    assert result.status_code == 0
    assert gone_soon([int(marker.read_text())]) == []


def test_the_run_leaves_no_cgroup_or_registry_file_behind(mode: str, tmp_path: Path) -> None:
    result = Process(command=["sh", "-c", "sleep 0.1 & exit 0"]).run()
    assert result.status_code == 0
    pid = int(result.identifier.rsplit(":", 1)[1])
    assert registry.entries_for(pid) == []
    if mode != "session":
        chosen = containment.select(mode, "x")
        assert isinstance(chosen, containment.CgroupContainment)
        assert [name for name in os.listdir(chosen.base) if name.startswith("run-")] == []


def test_relayed_output_of_a_descendant_after_the_leader_exits_is_kept(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fixed linger: the relay lasts while the tree does (here 1.5 s after
    the leader's exit)."""
    Process(command=["sh", "-c", "(sleep 1.5; echo late) & echo early"]).run()
    assert capsys.readouterr().out.split() == ["early", "late"]


def test_a_forced_mechanism_that_does_not_exist_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from launchbay.exceptions import InfrastructureError

    monkeypatch.setenv("LAUNCHBAY_CONTAINMENT", "bogus")
    with pytest.raises(InfrastructureError, match="LAUNCHBAY_CONTAINMENT='bogus'"):
        Process(command=["true"]).run()


def test_info_names_the_containment(mode: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "launchbay.cli", "info", "--no-engines"],
        capture_output=True,
        text=True,
        env={**os.environ, "LAUNCHBAY_CONTAINMENT": mode},
        check=True,
    )
    assert f"containment:  {mode}" in done.stdout


def test_the_stop_signal_reaches_every_member(mode: str, tmp_path: Path) -> None:
    """SIGTERM goes to every member of the tree, not only the leader's group:
    each gets its chance to exit cleanly before anything is killed."""
    pids_file = tmp_path / "pids"
    members, _ = _run_tree_then(pids_file, "kill", ignore_term=False, note_signals=True)
    assert gone_soon(members) == []
    assert noted_signals(pids_file) == {route: "SIGTERM" for route in members}


@pytest.mark.parametrize("version", ["cgroup-v2", "cgroup-v1"])
def test_stopping_a_run_whose_cgroup_its_supervisor_just_removed_finds_nothing_left(version: str) -> None:
    # `launchbay kill` racing the run's end: the supervisor saw the cgroup
    # empty and removed it while the killer was about to kill or freeze it.
    chosen = containment.select(version, "x")
    assert isinstance(chosen, containment.CgroupContainment)
    scope = chosen.new_scope()
    scope.release()
    assert not os.path.exists(scope.path)
    scope.freeze()
    scope.thaw()
    assert scope.kill() is True
    assert scope.members() == [] and not scope.has_members()
