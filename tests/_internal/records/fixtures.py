"""Stores for the run-record tests: a SQLite file, and a schema of its own on
the real PostgreSQL server (dropped afterwards)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest


class Database:
    """One empty store, and plain SQL on it (to build old or foreign schemas
    and to look at what launchbay wrote)."""

    def __init__(self, kind: str, url: str, connect: Any, placeholder: str) -> None:
        self.kind = kind
        self.url = url
        self._connect = connect
        self._placeholder = placeholder

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = self._connect()
        try:
            cursor = connection.execute(sql.replace("?", self._placeholder), params)
            rows = cursor.fetchall() if cursor.description else []
            connection.commit()
            return [tuple(row) for row in rows]
        finally:
            connection.close()

    def tables(self) -> set[str]:
        if self._placeholder == "?":
            return {r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            r[0]
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        }


def postgres_database(base: str) -> Iterator[Database]:
    import psycopg

    schema = f"lbruns_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        yield Database("postgres", url, lambda: psycopg.connect(url), "%s")
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        yield Database("sqlite", f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
        return
    yield from postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """LAUNCHBAY_DATABASE_URL for the test: unset (the default SQLite file in
    LAUNCHBAY_HOME), or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{launchbay_home / 'launchbay.db'}"
        return
    for database in postgres_database(request.getfixturevalue("postgres_url")):
        monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", database.url)
        yield database.url


# --- the CLI, as a user runs it --------------------------------------------------------------


def launchbay_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    from tests.cli.commands import LAUNCHBAY

    return subprocess.run(
        [LAUNCHBAY, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def detach(*args: str) -> str:
    """``launchbay run -d ARGS``: the run id it printed (exit 0 checked)."""
    done = launchbay_cli("run", "-d", *args)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id), done.stdout
    return run_id


def gated(gate: Path, before: str, after: str, code: int) -> list[str]:
    """A shell command that prints ``before``, waits until ``gate`` exists,
    prints ``after`` and exits ``code`` (no sleeps to race with)."""
    script = f"echo {before}; while [ ! -e {gate} ]; do sleep 0.02; done; echo {after}; exit {code}"
    return ["sh", "-c", script]


def wait_until(condition: Any, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)
