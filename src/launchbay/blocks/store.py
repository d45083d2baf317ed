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


class _SQLBlockStore:
    """The queries, shared by both databases; subclasses open transactions."""

    url: str
    _placeholder = "?"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def _sql(self, query: str) -> str:
        return query.replace("?", self._placeholder)

    def put(self, type_slug: str, name: str, document: dict[str, Any], overwrite: bool) -> None:
        text = json.dumps(document, sort_keys=True)
        now = _now()
        on_conflict = (
            "DO UPDATE SET document = excluded.document, updated = excluded.updated"
            if overwrite
            else "DO NOTHING"
        )
        with self._transaction() as connection:
            cursor = connection.execute(
                self._sql(
                    "INSERT INTO launchbay_blocks VALUES (?, ?, ?, ?, ?) "
                    f"ON CONFLICT (type_slug, name) {on_conflict}"
                ),
                (type_slug, name, text, now, now),
            )
            if cursor.rowcount == 0:
                raise BlockAlreadyExists(
                    f"A {type_slug} block named {name!r} already exists; "
                    "pass overwrite=True (CLI: --overwrite) to replace it."
                )

    def get(self, type_slug: str, name: str) -> dict[str, Any] | None:
        with self._transaction() as connection:
            row = connection.execute(
                self._sql("SELECT document FROM launchbay_blocks WHERE type_slug = ? AND name = ?"),
                (type_slug, name),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, type_slug: str, name: str) -> bool:
        with self._transaction() as connection:
            cursor = connection.execute(
                self._sql("DELETE FROM launchbay_blocks WHERE type_slug = ? AND name = ?"),
                (type_slug, name),
            )
            return bool(cursor.rowcount > 0)

    def list(self, type_slug: str | None = None) -> list[SavedBlock]:
        query = "SELECT type_slug, name, updated FROM launchbay_blocks"
        params: tuple[str, ...] = ()
        if type_slug is not None:
            query += " WHERE type_slug = ?"
            params = (type_slug,)
        with self._transaction() as connection:
            rows = connection.execute(self._sql(query + " ORDER BY type_slug, name"), params).fetchall()
        return [SavedBlock(*row) for row in rows]


class SQLiteBlockStore(_SQLBlockStore):
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
        connection = self._connect()
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_TABLE_SQL)
        finally:
            connection.close()
        self._ready = True

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so two
            # writers queue on the lock (busy timeout) instead of failing.
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise BlockError(f"Cannot open the block store at {self.path}: {exc}") from None
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


class PostgresBlockStore(_SQLBlockStore):
    _placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self._ready = False

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
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
            raise BlockError(
                "LAUNCHBAY_DATABASE_URL=sqlite:// needs a file path, e.g. sqlite:////tmp/launchbay.db"
            )
        return SQLiteBlockStore(Path(path).expanduser())
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        return PostgresBlockStore(urlunsplit(parts._replace(scheme="postgresql")))
    raise BlockError(
        f"Unsupported LAUNCHBAY_DATABASE_URL {redact_url(url)!r}: "
        "use sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
    )
