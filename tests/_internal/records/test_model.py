"""A run record as a row and as JSON, without loss."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import RunRecord, RunStatus, new_id


def test_a_record_survives_its_row_and_says_itself_in_json() -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=timezone.utc)
    record = RunRecord(
        id=new_id(),
        kind="docker-container",
        command=("sh", "-c", "echo 'a b'"),
        created=created,
        name="web",
        infrastructure_pid="unix:///var/run/docker.sock:abc",
        labels={"team": "x"},
        block="docker-container/web",
        status=RunStatus.EXITED,
        status_code=137,
        exit_reason=ExitReason.OOM_KILLED,
        reason="OOMKilled",
        ended=datetime(2024, 5, 6, 7, 9, 0, tzinfo=timezone.utc),
        supervisor=None,
        detached=True,
    )
    assert RunRecord.from_row(record.to_row()) == record
    data = json.loads(json.dumps(record.to_json()))
    assert data["created"] == "2024-05-06T07:08:09.500000Z" and data["ended"] == "2024-05-06T07:09:00Z"
    assert (
        data["status"] == "exited"
        and data["exit_reason"] == "oom_killed"
        and data["command"][2] == "echo 'a b'"
    )
    assert set(data) >= {
        "id", "name", "kind", "infrastructure_pid", "command", "labels", "block", "status",
        "status_code", "exit_reason", "created", "ended", "supervisor",
    }  # fmt: skip
    assert record.short_id == record.id[:12] and len(record.id) == 32


def test_values_a_newer_launchbay_wrote_are_read_not_fatal() -> None:
    row = list(
        RunRecord(id="a" * 32, kind="process", command=(), created=datetime.now(timezone.utc)).to_row()
    )
    row[7], row[9], row[4] = "paused", "teleported", "not json"
    record = RunRecord.from_row(tuple(row))
    assert (
        record.status is RunStatus.LOST and record.exit_reason is ExitReason.UNKNOWN and record.command == ()
    )


def test_a_record_read_from_a_row_has_every_field() -> None:
    record = RunRecord(
        id=new_id(), kind="process", command=("true",), created=datetime.now(timezone.utc), labels={"a": "b"}
    )
    read = RunRecord.from_row(record.to_row())
    assert read._asdict() == record._asdict()
    assert read == record and hash(read) == hash(record)
    assert record._replace(status_code=3).status_code == 3 and record.status_code is None  # immutable


def test_json_columns_are_read_as_json_loads_reads_them() -> None:
    row = list(
        RunRecord(id="b" * 32, kind="process", command=(), created=datetime.now(timezone.utc)).to_row()
    )
    for text, command in (
        (' ["a", "b"] ', ("a", "b")),
        ('["a"] x', ()),
        ("", ()),
        (None, ()),
        ('{"a": 1}', ()),
    ):
        row[4] = text
        assert RunRecord.from_row(tuple(row)).command == command
