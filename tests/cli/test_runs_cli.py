"""``launchbay ps|logs|wait|inspect|rm|prune``: what they print (Docker's
way: aligned columns, short ids, relative times; JSON for scripts; status on
stderr) and how they exit."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from launchbay import runs
from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import RunRecord, RunStatus
from launchbay._internal.records.store import open_record_store
from launchbay.cli.runs import parse_duration
from launchbay.cli.runs_table import format_table, human_duration, status_text
from tests._internal.records.fixtures import database_url, detach, gated, launchbay_cli  # noqa: F401 - fixture

NOW = 1_700_000_000.0


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "Less than a second"),
        (1.5, "1 second"),
        (42, "42 seconds"),
        (90, "About a minute"),
        (600, "10 minutes"),
        (3700, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_durations_read_as_docker_says_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_a_status_says_how_long_or_how_it_ended() -> None:
    running = RunRecord(id="a" * 32, kind="process", command=("x",), created=at(300))
    assert status_text(running, NOW) == "Up 5 minutes"
    exited = RunRecord(
        id="b" * 32, kind="process", command=("x",), created=at(300), status=RunStatus.EXITED,
        status_code=7, exit_reason=ExitReason.EXITED, ended=at(2),
    )  # fmt: skip
    assert status_text(exited, NOW) == "Exited (7) 2 seconds ago"
    lost = RunRecord(id="c" * 32, kind="process", command=("x",), created=at(9), status=RunStatus.LOST)
    assert status_text(lost, NOW) == "Lost"


def test_the_table_is_aligned_with_short_ids_and_shortened_commands() -> None:
    records = [
        RunRecord(id="0123456789abcdef" * 2, kind="docker-container", command=("sh", "-c", "echo " + "x" * 60),
                  created=at(120), name="web"),
        RunRecord(id="fedcba9876543210" * 2, kind="process", command=("true",), created=at(5),
                  status=RunStatus.EXITED, status_code=0, ended=at(4)),
    ]  # fmt: skip
    lines = format_table(records, now=NOW).splitlines()
    assert lines[0].split() == ["RUN", "ID", "KIND", "COMMAND", "CREATED", "STATUS", "NAME"]
    assert lines[1].startswith("0123456789ab   docker   ") and lines[1].endswith("   web")
    assert lines[2].startswith("fedcba987654   process  ")
    columns = [lines[0].index(title) for title in ("KIND", "COMMAND", "CREATED", "STATUS")]
    for line in lines[1:]:
        assert all(line[column - 3 : column] == "   " for column in columns)  # every column starts aligned
    assert '"sh -c \'echo xxxxxxxxxxxxxxxxx…"' in lines[1] and "2 minutes ago" in lines[1]
    assert "Exited (0) 4 seconds ago" in lines[2]
    untruncated = format_table(records, truncate=False, now=NOW)
    assert "0123456789abcdef" * 2 in untruncated and "x" * 60 in untruncated


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("1.5h", 5400)],
)
def test_durations_for_prune(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_ps_inspect_rm_and_prune_on_each_store(database_url: str) -> None:
    first = detach("--name", "first", "-l", "team=a", "--", "sh", "-c", "exit 2")
    second = detach("-l", "team=b", "--", "true")
    assert runs.wait(first).status_code == 2 and runs.wait(second).status_code == 0
    empty = launchbay_cli("ps")
    assert (empty.returncode, empty.stdout.splitlines()[1:], empty.stderr) == (0, [], "")  # the header only
    table = launchbay_cli("ps", "-a").stdout.splitlines()
    assert table[1].startswith(second[:12]) and table[2].startswith(first[:12])  # newest first
    assert "Exited (2)" in table[2] and table[2].endswith("first")
    as_json = json.loads(launchbay_cli("ps", "-a", "--json").stdout)
    assert [r["id"] for r in as_json] == [second, first]
    assert launchbay_cli("ps", "-aq").stdout.split() == [second[:12], first[:12]]
    assert launchbay_cli("ps", "-aq", "-l", "team=a").stdout.split() == [first[:12]]
    inspected = json.loads(launchbay_cli("inspect", "first").stdout)
    assert inspected["id"] == first and inspected["status_code"] == 2 and inspected["labels"] == {"team": "a"}
    pruned = launchbay_cli("prune", "--older-than", "1h")
    assert (pruned.stdout, pruned.returncode) == ("", 0) and "removed 0 run records" in pruned.stderr
    pruned = launchbay_cli("prune")
    assert sorted(pruned.stdout.split()) == sorted([first, second])
    assert open_record_store().records() == []


def test_unknown_and_ambiguous_references_exit_1_with_one_line() -> None:
    store = open_record_store()
    for run_id in ("ab" + "1" * 30, "ab" + "2" * 30):
        store.insert(RunRecord(id=run_id, kind="process", command=("x",), created=at(0)))
    for args, message in (
        (("inspect", "zzz"), "No run 'zzz'"),
        (("wait", "ab"), "matches 2 runs"),
        (("logs", "nope"), "No run 'nope'"),
        (("rm", "nope"), "No run 'nope'"),
    ):
        done = launchbay_cli(*args)
        assert done.returncode == 1 and message in done.stderr and len(done.stderr.splitlines()) == 1, (
            done.stderr
        )


def test_logs_of_a_run_without_a_log_says_why() -> None:
    store = open_record_store()
    store.insert(
        RunRecord(id="c" * 32, kind="process", command=("x",), created=at(0), infrastructure_pid="h:1")
    )
    done = launchbay_cli("logs", "c" * 12)
    assert done.returncode == 1 and "kept no log" in done.stderr


def test_kill_and_attach_helpers_take_a_run_reference_or_fall_back_to_a_pid(tmp_path: Path) -> None:
    from launchbay.cli.runs import recorded_run

    assert recorded_run("somehost:12345") is None  # a pid without a record: the pid path
    with pytest.raises(runs.RunNotFound):
        recorded_run("neither-a-run-nor-a-pid")
    gate = tmp_path / "gate"
    run_id = detach("--name", "att", "--", *gated(gate, "x", "y", 6))
    record = recorded_run("att")
    assert record is not None and record.id == run_id
    code = "import sys; from launchbay.cli.runs import attach_recorded, recorded_run; sys.exit(attach_recorded(recorded_run('att')))"
    attach = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert attach.stdout is not None and attach.stdout.readline() == "x\n"
    gate.touch()
    assert attach.communicate(timeout=60)[0] == "y\n" and attach.returncode == 6
    second = detach("--", "sleep", "300")
    from launchbay.cli.runs import kill_recorded

    target = recorded_run(second[:8])
    assert target is not None
    kill_recorded(target, grace_seconds=5)
    assert runs.wait(second).exit_reason is ExitReason.CANCELLED
