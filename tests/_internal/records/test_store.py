"""The run records in a real store: SQLite and PostgreSQL (each test in a
schema of its own), the schema upgrade from an older store, and many
concurrent writers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from launchbay import Process
from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import (
    AmbiguousRun,
    RunNameInUse,
    RunNotFound,
    RunRecord,
    RunStatus,
)
from launchbay._internal.records.schema import SCHEMA_VERSION
from launchbay._internal.records.store import SQLiteRecordStore, open_record_store
from launchbay.blocks.store import open_store
from launchbay.exceptions import StoreError
from tests._internal.records.fixtures import Database, database  # noqa: F401 - fixture

LEGACY_BLOCKS = """CREATE TABLE launchbay_blocks (
    type_slug TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (type_slug, name))"""
OLD_DOCUMENT = json.dumps(
    {"block_type_slug": "process", "data": {"type": "process", "command": ["echo", "old"]}}
)

WRITER = """
import sys
from launchbay._internal.records import recorder
from launchbay._internal.records.store import open_record_store
url, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    recording = recorder.begin("process", command=["echo", str(i)], name=f"{prefix}-{i}", cli=True,
                               store=open_record_store(url))
    recording.started(f"host:{1000 + i}")
    recording.end(i % 256, "exited", None)
"""


def record(run_id: str, **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "id": run_id,
        "kind": "process",
        "command": ("echo", "hi"),
        "created": datetime.now(timezone.utc),
    }
    values.update(fields)
    return RunRecord(**values)  # type: ignore[arg-type]


def test_a_record_is_written_read_and_ended_once(database: Database) -> None:
    store = open_record_store(database.url)
    assert store.records() == []  # reading creates nothing
    assert database.tables() == set()
    store.insert(record("a" * 32, name="first", labels={"team": "x"}, block="process/b"))
    store.set_started("a" * 32, "host:42")
    assert store.set_end("a" * 32, status=RunStatus.EXITED, status_code=7, exit_reason="exited", reason=None)
    # The first end recorded wins.
    assert not store.set_end(
        "a" * 32, status=RunStatus.LOST, status_code=None, exit_reason="lost", reason="x"
    )
    got = open_record_store(database.url).get("a" * 32)
    assert got is not None
    assert (got.name, got.infrastructure_pid, got.status, got.status_code) == (
        "first",
        "host:42",
        RunStatus.EXITED,
        7,
    )
    assert got.exit_reason is ExitReason.EXITED
    assert dict(got.labels) == {"team": "x"} and got.block == "process/b" and got.command == ("echo", "hi")
    assert got.ended is not None and got.ended >= got.created
    store.close()


def test_a_name_is_held_by_one_record(database: Database) -> None:
    store = open_record_store(database.url)
    store.insert(record("b" * 32, name="nightly"))
    with pytest.raises(
        RunNameInUse,
        match=r"'nightly' is already in use by run bbbbbbbbbbbb \(running\).*launchbay rm nightly",
    ):
        store.insert(record("c" * 32, name="nightly"))
    store.insert(record("d" * 32))  # records without a name: as many as wanted
    store.insert(record("e" * 32))
    store.delete(["b" * 32])
    store.insert(record("c" * 32, name="nightly"))  # free again once removed
    assert store.resolve("nightly").id == "c" * 32


def test_a_reference_is_an_id_a_name_a_pid_or_a_unique_prefix(database: Database) -> None:
    store = open_record_store(database.url)
    store.insert(record("abc1" + "0" * 28, name="web", infrastructure_pid="host:10"))
    store.insert(record("abc2" + "0" * 28, infrastructure_pid="unix:///var/run/docker.sock:f00"))
    store.insert(record("fff" + "0" * 29, name="abc1"))  # a name that looks like a prefix
    assert store.resolve("abc1" + "0" * 28).name == "web"  # the whole id
    assert store.resolve("ABC1" + "0" * 28).name == "web"  # ids in any case
    assert store.resolve("abc1").id.startswith("fff")  # a name before a prefix, as Docker
    assert store.resolve("abc2").id.startswith("abc2")
    assert store.resolve("web").id.startswith("abc1")
    assert store.resolve("host:10").id.startswith("abc1")
    assert store.resolve("host:10@12345").id.startswith("abc1")  # the id with the start time
    assert store.resolve("unix:///var/run/docker.sock:f00").id.startswith("abc2")
    with pytest.raises(AmbiguousRun, match="matches 2 runs"):
        store.resolve("abc")
    with pytest.raises(RunNotFound, match="No run 'nope'"):
        store.resolve("nope")
    with pytest.raises(RunNotFound):
        store.resolve("")


def test_a_reused_process_pid_names_the_running_run_first(database: Database) -> None:
    store = open_record_store(database.url)
    store.insert(record("1" * 32, infrastructure_pid="host:77"))
    store.set_end("1" * 32, status=RunStatus.EXITED, status_code=0, exit_reason="exited", reason=None)
    store.insert(record("2" * 32, infrastructure_pid="host:77"))
    assert store.resolve("host:77").id == "2" * 32


def test_listing_and_pruning_by_status_and_age(database: Database) -> None:
    store = open_record_store(database.url)
    now = time.time()
    old = datetime.fromtimestamp(now - 3600, timezone.utc)
    store.insert(record("1" * 32, created=old))
    store.set_end(
        "1" * 32, status=RunStatus.EXITED, status_code=0, exit_reason="exited", reason=None, ended=now - 3000
    )
    store.insert(record("2" * 32))
    store.set_end("2" * 32, status=RunStatus.EXITED, status_code=1, exit_reason="exited", reason=None)
    store.insert(record("3" * 32))
    assert [r.id[0] for r in store.records()] == ["3", "2", "1"]  # newest first
    assert [r.id[0] for r in store.records(running_only=True)] == ["3"]
    assert [r.id[0] for r in store.finished_before(now - 60)] == ["1"]
    assert sorted(r.id[0] for r in store.finished_before(None)) == ["1", "2"]


def test_an_older_store_upgrades_in_place_keeping_its_blocks(database: Database) -> None:
    # A store from before versioning (version 0), as the first launchbay wrote it.
    database.execute(LEGACY_BLOCKS)
    database.execute(
        "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)", ("process", "old", OLD_DOCUMENT, "t0", "t0")
    )
    store = open_record_store(database.url)
    assert store.records() == []  # reading it changes nothing
    assert "launchbay_runs" not in database.tables()
    store.insert(record("9" * 32))
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]
    assert {"launchbay_blocks", "launchbay_runs", "launchbay_schema"} <= database.tables()
    assert Process.load("old", store=open_store(database.url)).command == ["echo", "old"]


def test_a_version_1_store_written_by_the_block_store_gets_the_runs_table(database: Database) -> None:
    database.execute(LEGACY_BLOCKS)
    database.execute("CREATE TABLE launchbay_schema (version INTEGER NOT NULL)")
    database.execute("INSERT INTO launchbay_schema VALUES (?)", (1,))
    Process(command=["true"]).save("kept", store=open_store(database.url))  # the block store upgrades it too
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]
    assert "launchbay_runs" in database.tables()
    store = open_record_store(database.url)
    store.insert(record("8" * 32))
    assert [r.id for r in store.records()] == ["8" * 32]
    assert [s.name for s in open_store(database.url).list()] == ["kept"]


def test_a_newer_store_is_refused_untouched(database: Database) -> None:
    database.execute(LEGACY_BLOCKS)
    database.execute("CREATE TABLE launchbay_schema (version INTEGER NOT NULL)")
    database.execute("INSERT INTO launchbay_schema VALUES (?)", (SCHEMA_VERSION + 1,))
    store = open_record_store(database.url)
    with pytest.raises(StoreError, match="newer than this launchbay knows"):
        store.insert(record("7" * 32))
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION + 1,)]


@pytest.mark.slow
def test_hundreds_of_concurrent_writers_lose_no_record(database: Database) -> None:
    writers, each = 150, 2  # 150 processes at once, 300 runs, 900 write transactions
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, database.url, f"w{n}", str(each)])
        for n in range(writers)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * writers
    records = open_record_store(database.url).records()
    assert len(records) == writers * each
    assert {r.name for r in records} == {f"w{n}-{i}" for n in range(writers) for i in range(each)}
    assert all(r.status is RunStatus.EXITED and r.infrastructure_pid for r in records)
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]


# --- SQLite only -------------------------------------------------------------------------


def test_the_default_store_is_owner_only_in_home(launchbay_home: Path) -> None:
    store = open_record_store()
    assert isinstance(store, SQLiteRecordStore) and store.path == launchbay_home / "launchbay.db"
    store.insert(record("6" * 32))
    assert stat.S_IMODE(os.stat(launchbay_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_a_foreign_sqlite_file_is_left_alone(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    store = open_record_store(f"sqlite:///{path}")
    with pytest.raises(StoreError, match="not a launchbay store"):
        store.insert(record("5" * 32))
    with sqlite3.connect(path) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == {"notes"}
