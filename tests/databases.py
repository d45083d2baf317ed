"""Empty stores for tests that need a real database: a SQLite file, or a
schema of its own on the real PostgreSQL server (dropped afterwards)."""

from __future__ import annotations

import sqlite3
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
