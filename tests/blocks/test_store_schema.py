"""The store's schema version, and the in-place upgrade of an older store, on
SQLite and on a real PostgreSQL server (each test in a schema of its own)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from launchbay import Process
from launchbay.blocks.store import SCHEMA_VERSION, open_store
from launchbay.exceptions import StoreError
from tests.databases import Database, database  # noqa: F401 - fixture

LEGACY_TABLE = """CREATE TABLE launchbay_blocks (
    type_slug TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (type_slug, name))"""
OLD_DOCUMENT = json.dumps(
    {"block_type_slug": "process", "data": {"type": "process", "command": ["echo", "old"]}}
)

WRITER = """
import sys
from launchbay import Process
from launchbay.blocks.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[3])):
    Process(command=["echo", str(i)]).save(f"{sys.argv[2]}-{i}", store=store)
"""


pytestmark = pytest.mark.postgres


def test_a_new_store_gets_the_current_schema_version(database: Database) -> None:
    store = open_store(database.url)
    assert store.list() == []  # reading creates nothing
    assert database.tables() == set()
    Process(command=["true"]).save("first", store=store)
    assert {"launchbay_schema", "launchbay_blocks"} <= database.tables()
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]


def test_a_store_from_before_versioning_upgrades_in_place_keeping_its_blocks(database: Database) -> None:
    database.execute(LEGACY_TABLE)
    database.execute(
        "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)", ("process", "old", OLD_DOCUMENT, "t0", "t0")
    )
    store = open_store(database.url)
    # Reading an older store works, and changes nothing.
    assert [s.reference for s in store.list()] == ["process/old"]
    assert "launchbay_schema" not in database.tables()
    # The first write upgrades it, in place.
    Process(command=["echo", "new"]).save("new", store=store)
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]
    assert Process.load("old", store=store).command == ["echo", "old"]
    assert [s.reference for s in open_store(database.url).list()] == ["process/new", "process/old"]


@pytest.mark.slow
def test_concurrent_first_writers_upgrade_an_old_store_once_and_lose_nothing(database: Database) -> None:
    database.execute(LEGACY_TABLE)
    database.execute(
        "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)", ("process", "old", OLD_DOCUMENT, "t0", "t0")
    )
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, database.url, f"w{n}", "20"]) for n in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION,)]
    names = {s.name for s in open_store(database.url).list("process")}
    assert names == {"old"} | {f"w{n}-{i}" for n in range(3) for i in range(20)}


def test_a_store_of_a_newer_launchbay_is_refused_untouched(database: Database) -> None:
    database.execute(LEGACY_TABLE)
    database.execute(
        "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)", ("process", "old", OLD_DOCUMENT, "t0", "t0")
    )
    database.execute("CREATE TABLE launchbay_schema (version INTEGER NOT NULL)")
    database.execute("INSERT INTO launchbay_schema VALUES (?)", (SCHEMA_VERSION + 1,))
    store = open_store(database.url)
    for operation in (
        store.list,
        lambda: Process.load("old", store=store),
        lambda: Process(command=["true"]).save("x", store=store),
        lambda: Process.delete("old", store=store),
    ):
        with pytest.raises(
            StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer .* upgrade launchbay"
        ):
            operation()
    assert database.execute("SELECT name FROM launchbay_blocks") == [("old",)]
    assert database.execute("SELECT version FROM launchbay_schema") == [(SCHEMA_VERSION + 1,)]


def test_a_blocks_table_launchbay_did_not_write_is_refused_untouched(database: Database) -> None:
    database.execute("CREATE TABLE launchbay_blocks (x TEXT)")
    database.execute("INSERT INTO launchbay_blocks VALUES (?)", ("keep",))
    store = open_store(database.url)
    for operation in (store.list, lambda: Process(command=["true"]).save("x", store=store)):
        with pytest.raises(StoreError, match="launchbay_blocks table that launchbay did not write"):
            operation()
    assert database.execute("SELECT x FROM launchbay_blocks") == [("keep",)]
    assert "launchbay_schema" not in database.tables()


def test_a_stored_row_that_is_not_a_document_is_a_clear_error(database: Database) -> None:
    Process(command=["true"]).save("fine", store=open_store(database.url))
    database.execute(
        "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)", ("process", "broken", "{not json", "t0", "t0")
    )
    with pytest.raises(StoreError, match=r"process/broken .* is not a block document; remove it"):
        Process.load("broken", store=open_store(database.url))
    Process.delete("broken", store=open_store(database.url))  # what the message says to do works
    assert [s.name for s in open_store(database.url).list()] == ["fine"]
