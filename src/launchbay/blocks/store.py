"""The block store: a real database of saved block documents.

SQLite (a file in ``LAUNCHBAY_HOME``, owner-only) by default, PostgreSQL when
``LAUNCHBAY_DATABASE_URL`` names one. Each call opens its own short connection so
several processes can read and write at once; writes are single transactions.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from launchbay.exceptions import BlockAlreadyExists, BlockError

_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS launchbay_blocks (
    type_slug TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (type_slug, name)
)
"""


@dataclass(frozen=True)
class SavedBlock:
    """One row of the store, without its document."""

    type_slug: str
    name: str
    updated: str

    @property
    def reference(self) -> str:
        return f"{self.type_slug}/{self.name}"


class BlockStore(Protocol):
    url: str

    def put(self, type_slug: str, name: str, document: dict[str, Any], overwrite: bool) -> None: ...
    def get(self, type_slug: str, name: str) -> dict[str, Any] | None: ...
    def delete(self, type_slug: str, name: str) -> bool: ...
    def list(self, type_slug: str | None = None) -> list[SavedBlock]: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class SQLiteBlockStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._ready = False

    def _prepare(self) -> None:
        # HOME and the file are created owner-only before SQLite touches them;
        # SQLite gives its -wal/-shm files the database file's permissions.
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_TABLE_SQL)
        self._ready = True

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so two
            # writers queue on the lock (busy timeout) instead of failing.
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise BlockError(f"Cannot open the block store at {self.path}: {exc}") from None
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self._prepare()
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def put(self, type_slug: str, name: str, document: dict[str, Any], overwrite: bool) -> None:
        text = json.dumps(document, sort_keys=True)
        now = _now()
        with self._transaction() as connection:
            exists = connection.execute(
                "SELECT 1 FROM launchbay_blocks WHERE type_slug = ? AND name = ?",
                (type_slug, name),
            ).fetchone()
            if exists and not overwrite:
                raise BlockAlreadyExists(_exists_message(type_slug, name))
            if exists:
                connection.execute(
                    "UPDATE launchbay_blocks SET document = ?, updated = ? WHERE type_slug = ? AND name = ?",
                    (text, now, type_slug, name),
                )
            else:
                connection.execute(
                    "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?)",
                    (type_slug, name, text, now, now),
                )

    def get(self, type_slug: str, name: str) -> dict[str, Any] | None:
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT document FROM launchbay_blocks WHERE type_slug = ? AND name = ?",
                (type_slug, name),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, type_slug: str, name: str) -> bool:
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM launchbay_blocks WHERE type_slug = ? AND name = ?", (type_slug, name)
            )
            return cursor.rowcount > 0

    def list(self, type_slug: str | None = None) -> list[SavedBlock]:
        query = "SELECT type_slug, name, updated FROM launchbay_blocks"
        params: tuple[str, ...] = ()
        if type_slug is not None:
            query += " WHERE type_slug = ?"
            params = (type_slug,)
        with self._transaction() as connection:
            rows = connection.execute(query + " ORDER BY type_slug, name", params).fetchall()
        return [SavedBlock(*row) for row in rows]


class PostgresBlockStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        try:
            connection = psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BlockError(
                f"Cannot connect to the block store at {redact_url(self.url)}: {reason}. "
                "Check LAUNCHBAY_DATABASE_URL."
            ) from None
        try:
            with connection.transaction():
                if not self._ready:
                    # The advisory lock serialises CREATE TABLE IF NOT EXISTS,
                    # which races between fresh concurrent writers.
                    connection.execute("SELECT pg_advisory_xact_lock(7213431)")
                    connection.execute(_TABLE_SQL)
                    self._ready = True
                yield connection
        finally:
            connection.close()

    def put(self, type_slug: str, name: str, document: dict[str, Any], overwrite: bool) -> None:
        text = json.dumps(document, sort_keys=True)
        now = _now()
        with self._connect() as connection:
            if overwrite:
                connection.execute(
                    "INSERT INTO launchbay_blocks VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (type_slug, name) DO UPDATE "
                    "SET document = EXCLUDED.document, updated = EXCLUDED.updated",
                    (type_slug, name, text, now, now),
                )
                return
            cursor = connection.execute(
                "INSERT INTO launchbay_blocks VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (type_slug, name) DO NOTHING",
                (type_slug, name, text, now, now),
            )
            if cursor.rowcount == 0:
                raise BlockAlreadyExists(_exists_message(type_slug, name))

    def get(self, type_slug: str, name: str) -> dict[str, Any] | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT document FROM launchbay_blocks WHERE type_slug = %s AND name = %s",
                (type_slug, name),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, type_slug: str, name: str) -> bool:
        with self._connect() as connection:
            cursor = connection.execute(
                "DELETE FROM launchbay_blocks WHERE type_slug = %s AND name = %s", (type_slug, name)
            )
            return cursor.rowcount > 0

    def list(self, type_slug: str | None = None) -> list[SavedBlock]:
        query = "SELECT type_slug, name, updated FROM launchbay_blocks"
        params: tuple[str, ...] = ()
        if type_slug is not None:
            query += " WHERE type_slug = %s"
            params = (type_slug,)
        with self._connect() as connection:
            rows = connection.execute(query + " ORDER BY type_slug, name", params).fetchall()
        return [SavedBlock(*row) for row in rows]


def _exists_message(type_slug: str, name: str) -> str:
    return (
        f"A {type_slug} block named {name!r} already exists; "
        "pass overwrite=True (CLI: --overwrite) to replace it."
    )


def open_store(url: str | None = None) -> BlockStore:
    """The store named by ``url``, or by the current settings."""
    if url is None:
        from launchbay.settings import get_current_settings

        settings = get_current_settings()
        url = settings.database_url
        if not url:
            return SQLiteBlockStore(settings.database_path)
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        if path.startswith("/"):
            path = path[1:] if path.startswith("//") else path  # sqlite:////abs and sqlite:///abs
        if not path:
            raise BlockError("LAUNCHBAY_DATABASE_URL=sqlite:// needs a file path, e.g. sqlite:////tmp/launchbay.db")
        return SQLiteBlockStore(Path(path).expanduser())
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        return PostgresBlockStore(urlunsplit(parts._replace(scheme="postgresql")))
    raise BlockError(
        f"Unsupported LAUNCHBAY_DATABASE_URL {redact_url(url)!r}: "
        "use sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
    )
