"""The block store: a real database of saved block documents.

SQLite (a file in ``LAUNCHBAY_HOME``, owner-only) by default, PostgreSQL when
``LAUNCHBAY_DATABASE_URL`` names one. Each call opens its own short connection so
several processes can read and write at once; writes are single transactions.

The schema is versioned (table ``launchbay_schema``): the first write to an older
store upgrades it in place, in one transaction, one step per version
(``_MIGRATIONS``). Reads never create or change anything: listing a store that
does not exist yet, or that is read-only, just reads.

Every failure of the store itself (a file that is not a database, a foreign or
newer schema, a read-only store on save, a ``LAUNCHBAY_HOME`` that is not a
usable directory, an unreachable server) is a ``StoreError`` whose one-line
message names the store, with any password masked, and what to do.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from launchbay._internal.records import schema
from launchbay._internal.records.schema import BLOCKS_TABLE, SCHEMA_TABLE
from launchbay._internal.urls import REDACTED, redact_url
from launchbay.exceptions import BlockAlreadyExists, BlockError, StoreError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "SCHEMA_VERSION",
    "BlockStore",
    "PostgresBlockStore",
    "SQLiteBlockStore",
    "SavedBlock",
    "open_store",
    "redact_url",
]

logger = logging.getLogger("launchbay.blocks.store")

BLOCK_COLUMNS = ("type_slug", "name", "document", "created", "updated")

# The migrations (one tuple of statements per version) are shared with the run
# records, which write to the same store: see launchbay._internal.records.schema.
# Version 1 is the blocks table; version 2 adds the run records (SPEC 14).
_MIGRATIONS = schema.MIGRATIONS
SCHEMA_VERSION = schema.SCHEMA_VERSION

# Serialises schema upgrades between PostgreSQL writers (CREATE TABLE IF NOT
# EXISTS races between fresh concurrent writers), the run records' too.
_PG_SCHEMA_LOCK = schema.PG_SCHEMA_LOCK


@dataclass(frozen=True)
class SavedBlock:
    """One row of the store, without its document."""

    type_slug: str
    name: str
    updated: str

    @property
    def reference(self) -> str:
        return f"{self.type_slug}/{self.name}"


Document = dict[str, Any]
Completion = Callable[[Document | None], Document]


class BlockStore(Protocol):
    url: str

    def put(
        self,
        type_slug: str,
        name: str,
        document: Document,
        overwrite: bool,
        *,
        complete: Completion | None = None,
    ) -> None: ...
    def get(self, type_slug: str, name: str) -> Document | None: ...
    def delete(self, type_slug: str, name: str) -> bool: ...
    def list(self, type_slug: str | None = None) -> list[SavedBlock]: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


class _SQLBlockStore:
    """The queries and the schema rules, shared by both databases; subclasses
    open the connections and turn their database's errors into ``StoreError``."""

    url: str
    _placeholder = "?"
    _lock_row = ""  # PostgreSQL: FOR UPDATE

    def __init__(self) -> None:
        self._readable = False  # the schema was found readable: skip the checks

    # --- connections (per database) -------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Any | None]:
        """A read transaction; None when the store does not exist yet."""
        raise NotImplementedError
        yield

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[Any | None]:
        """A write transaction on a current schema (upgraded if need be); with
        ``create=False``, None when the store does not exist yet."""
        raise NotImplementedError
        yield

    def _tables(self, connection: Any) -> set[str]:
        """The names of the tables in the store."""
        raise NotImplementedError

    def _describe(self) -> str:
        """The store, for messages."""
        return redact_url(self.url)

    def _foreign_tables_allowed(self) -> bool:
        """Whether launchbay may add its tables beside other tables."""
        return True

    def _elsewhere(self) -> str:
        """How to point launchbay at another store, for messages."""
        return "set LAUNCHBAY_DATABASE_URL to another store"

    # --- schema ---------------------------------------------------------

    def _sql(self, query: str) -> str:
        return query.replace("?", self._placeholder)

    def _schema_version(self, connection: Any) -> int | None:
        """The store's schema version; None when it holds no launchbay table
        (a new store). Raises ``StoreError`` for a schema launchbay cannot use."""
        tables = self._tables(connection)
        if SCHEMA_TABLE in tables:
            row = connection.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
        elif BLOCKS_TABLE in tables:
            version = 0
        else:
            if tables and not self._foreign_tables_allowed():
                shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
                raise StoreError(
                    f"{self._describe()} is not a launchbay block store (it holds other tables: {shown}) "
                    f"and launchbay leaves it alone; {self._elsewhere()}."
                )
            return None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The block store {self._describe()} has schema version {version}, newer than this "
                f"launchbay knows ({SCHEMA_VERSION}): upgrade launchbay to use it."
            )
        if BLOCKS_TABLE in tables:
            self._check_blocks_table(connection)
        return version

    def _check_blocks_table(self, connection: Any) -> None:
        cursor = connection.execute(f"SELECT * FROM {BLOCKS_TABLE} LIMIT 0")
        columns = {column[0] for column in cursor.description or ()}
        missing = [column for column in BLOCK_COLUMNS if column not in columns]
        if missing:
            raise StoreError(
                f"The block store {self._describe()} has a {BLOCKS_TABLE} table that launchbay did not "
                f"write (it lacks the columns {', '.join(missing)}) and launchbay leaves it alone; "
                f"{self._elsewhere()}."
            )

    def _upgrade(self, connection: Any, version: int | None) -> None:
        """Bring the store from ``version`` to ``SCHEMA_VERSION``, inside the
        caller's write transaction."""
        schema.upgrade(connection, version, self._placeholder)

    # --- blocks ---------------------------------------------------------

    def put(
        self,
        type_slug: str,
        name: str,
        document: Document,
        overwrite: bool,
        *,
        complete: Completion | None = None,
    ) -> None:
        """Store ``document`` under (``type_slug``, ``name``). ``complete``, if
        given, gets the stored document (or None) inside the write transaction,
        the row locked, and returns the document to store instead."""
        now = _now()
        on_conflict = (
            "DO UPDATE SET document = excluded.document, updated = excluded.updated"
            if overwrite
            else "DO NOTHING"
        )
        with self._write() as connection:
            assert connection is not None  # create=True: there is always a store to write
            if complete is not None:
                existing = self._get(connection, type_slug, name, lock=True)
                if existing is not None and not overwrite:
                    raise _already_exists(type_slug, name)
                document = complete(existing)
            cursor = connection.execute(
                self._sql(
                    f"INSERT INTO {BLOCKS_TABLE} ({', '.join(BLOCK_COLUMNS)}) VALUES (?, ?, ?, ?, ?) "
                    f"ON CONFLICT (type_slug, name) {on_conflict}"
                ),
                (type_slug, name, json.dumps(document, sort_keys=True), now, now),
            )
            if cursor.rowcount == 0:
                raise _already_exists(type_slug, name)

    def get(self, type_slug: str, name: str) -> Document | None:
        with self._read() as connection:
            return None if connection is None else self._get(connection, type_slug, name)

    def _get(self, connection: Any, type_slug: str, name: str, *, lock: bool = False) -> Document | None:
        row = connection.execute(
            self._sql(
                f"SELECT document FROM {BLOCKS_TABLE} WHERE type_slug = ? AND name = ?"
                + (self._lock_row if lock else "")
            ),
            (type_slug, name),
        ).fetchone()
        if row is None:
            return None
        try:
            document = json.loads(row[0])
        except (TypeError, ValueError):
            document = None
        if not isinstance(document, dict):
            raise StoreError(
                f"The saved {type_slug}/{name} in {self._describe()} is not a block document; "
                f"remove it (launchbay block rm {type_slug}/{name}) and save it again."
            )
        return document

    def delete(self, type_slug: str, name: str) -> bool:
        with self._write(create=False) as connection:
            if connection is None:
                return False
            cursor = connection.execute(
                self._sql(f"DELETE FROM {BLOCKS_TABLE} WHERE type_slug = ? AND name = ?"),
                (type_slug, name),
            )
            return bool(cursor.rowcount > 0)

    def list(self, type_slug: str | None = None) -> list[SavedBlock]:
        query = f"SELECT type_slug, name, updated FROM {BLOCKS_TABLE}"
        params: tuple[str, ...] = ()
        if type_slug is not None:
            query += " WHERE type_slug = ?"
            params = (type_slug,)
        with self._read() as connection:
            if connection is None:
                return []
            rows = connection.execute(self._sql(query + " ORDER BY type_slug, name"), params).fetchall()
        return [SavedBlock(*row) for row in rows]


def _already_exists(type_slug: str, name: str) -> BlockAlreadyExists:
    return BlockAlreadyExists(
        f"A {type_slug} block named {name!r} already exists; "
        "pass overwrite=True (CLI: --overwrite) to replace it."
    )


# --- SQLite ------------------------------------------------------------------


def _sqlite_error_name(exc: sqlite3.Error) -> str:
    """SQLITE_READONLY, SQLITE_NOTADB, ... (from the message before Python 3.11)."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        return name
    text = str(exc).lower()
    for needle, guessed in (
        ("readonly", "SQLITE_READONLY"),
        ("read-only", "SQLITE_READONLY"),
        ("not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
        ("locked", "SQLITE_BUSY"),
        ("unable to open", "SQLITE_CANTOPEN"),
        ("disk i/o", "SQLITE_IOERR"),
        ("full", "SQLITE_FULL"),
    ):
        if needle in text:
            return guessed
    return ""


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


class SQLiteBlockStore(_SQLBlockStore):
    """A SQLite file. ``setting`` names what chose the file (for messages):
    ``LAUNCHBAY_HOME`` for the default store, else ``LAUNCHBAY_DATABASE_URL``."""

    def __init__(self, path: Path, *, setting: str = "LAUNCHBAY_DATABASE_URL") -> None:
        super().__init__()
        self.path = path
        self.url = f"sqlite:///{path}"
        self.setting = setting
        self._ready = False  # writable and current: the first write checked it
        self._home_checked = False

    def _describe(self) -> str:
        return str(self.path)

    def _foreign_tables_allowed(self) -> bool:
        return False  # a file of another program's: never write launchbay's tables into it

    def _elsewhere(self) -> str:
        other = "directory" if self.setting == "LAUNCHBAY_HOME" else "store"
        return f"set {self.setting} to another {other}"

    def _tables(self, connection: Any) -> set[str]:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {row[0] for row in rows}

    # --- the directory and the file ---------------------------------------

    def _check_directory(self) -> bool:
        """Whether the store's directory exists; ``StoreError`` when that
        path is not a directory. Warns once when HOME is writable by others."""
        directory = self.path.parent
        try:
            info = directory.stat()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._os_error(exc, directory, action="reach") from None
        if not stat.S_ISDIR(info.st_mode):
            raise StoreError(
                f"{self.setting} {directory} is not a directory: rename or remove that file, "
                f"or set {self.setting} to a directory."
            )
        if self.setting == "LAUNCHBAY_HOME" and not self._home_checked:
            self._home_checked = True
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                who = " and ".join(
                    name
                    for bit, name in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "others"))
                    if info.st_mode & bit
                )
                message = (
                    f"LAUNCHBAY_HOME {directory} is writable by {who}, who could change the saved "
                    f"blocks; make it owner-only: chmod go-w {directory}"
                )
                logger.warning(message)
                warnings.warn(message, UserWarning, stacklevel=2)
        return True

    def _os_error(self, exc: OSError, path: Path, *, action: str = "create") -> StoreError:
        reason = exc.strerror or _first_line(exc)
        if isinstance(exc, PermissionError):
            need = "writable" if action == "create" else "reachable"
            return StoreError(
                f"Cannot {action} the block store {self.path}: {reason} ({path}); make "
                f"{path.parent} {need} by this user, or {self._elsewhere()}."
            )
        return StoreError(
            f"Cannot {action} the block store {self.path}: {reason} ({path}); {self._elsewhere()}."
        )

    def _create_file(self) -> None:
        # HOME and the file are created owner-only before SQLite touches them;
        # SQLite gives its -wal/-shm files the database file's permissions.
        directory = self.path.parent
        if not self._check_directory():
            try:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise self._os_error(exc, Path(exc.filename) if exc.filename else directory) from None
            self._check_directory()
        if not self.path.exists():
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise self._os_error(exc, self.path) from None

    # --- connections --------------------------------------------------------

    def _connect(self, *, immutable: bool = False) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so two writers queue
        # on the lock (busy timeout) instead of failing.
        target = f"file:{self.path}?mode=ro&immutable=1" if immutable else str(self.path)
        connection = sqlite3.connect(target, timeout=30, isolation_level=None, uri=immutable)
        try:
            connection.execute("PRAGMA busy_timeout=30000")
        except BaseException:
            connection.close()
            raise
        return connection

    def _error(self, exc: sqlite3.Error, action: str) -> StoreError:
        name = _sqlite_error_name(exc)
        reason = _first_line(exc)
        where = f"the block store {self.path}"
        if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT"):
            return StoreError(
                f"{self.path} is not a usable launchbay block store ({reason}); move it away "
                f"(launchbay then starts a new one), or {self._elsewhere()}."
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_PERM")):
            return StoreError(
                f"Cannot {action} {where}: it is read-only ({reason}); make it and its directory "
                f"writable by this user, or {self._elsewhere()}."
            )
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreError(
                f"Cannot {action} {where}: another program holds it locked ({reason}); try again."
            )
        if name.startswith("SQLITE_CANTOPEN"):
            return StoreError(
                f"Cannot open {where} ({reason}); check that it is a file this user can read "
                f"and write, or {self._elsewhere()}."
            )
        return StoreError(f"Cannot {action} {where}: {reason}; {self._elsewhere()}.")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        if not self._check_directory() or not self.path.exists():
            yield None  # nothing saved yet: create nothing
            return
        try:
            connection = self._open_for_reading()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        try:
            try:
                connection.execute("BEGIN")
                readable = self._readable or self._schema_version(connection) is not None
                if readable:
                    self._readable = True
            except sqlite3.Error as exc:
                raise self._error(exc, "read") from None
            # Errors of the caller's queries are translated below, not here, so
            # that a StoreError/BlockError raised in the body passes untouched.
            yield connection if readable else None
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        finally:
            connection.close()

    def _open_for_reading(self) -> sqlite3.Connection:
        if not os.access(self.path, os.W_OK) and not _has_content(Path(f"{self.path}-wal")):
            # A store we cannot write, with no write in progress: read the file
            # as it is. A plain open would leave -wal/-shm files behind, owned
            # by us and read-only, and those would break the owner's next write.
            return self._connect(immutable=True)
        connection = self._connect()
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            connection.close()
            if not _sqlite_error_name(exc).startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")):
                raise
            # A read-only WAL store whose -shm cannot be created (its directory
            # is read-only too): read the file as it is, nothing is writing it.
            return self._connect(immutable=True)
        return connection

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[sqlite3.Connection | None]:
        action = "save to" if create else "change"
        if create:
            self._create_file()
        elif not self._check_directory() or not self.path.exists():
            yield None  # nothing to change: create nothing
            return
        if not os.access(self.path, os.W_OK):
            # Refused before SQLite opens it: a failed write would leave -wal and
            # -shm files behind, read-only, that break the owner's next write.
            raise StoreError(
                f"Cannot {action} the block store {self.path}: it is read-only (this user may not "
                f"write the file); make it writable by this user, or {self._elsewhere()}."
            )
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            raise self._error(exc, action) from None
        try:
            if self._ready or self._prepare(connection, create=create):
                with self._immediate(connection):
                    yield connection
            else:
                yield None
        except sqlite3.Error as exc:
            raise self._error(exc, action) from None
        finally:
            connection.close()

    @staticmethod
    @contextmanager
    def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
        """A write transaction: BEGIN IMMEDIATE takes the write lock up front, so
        concurrent writers queue (busy timeout) instead of failing mid-way."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _prepare(self, connection: sqlite3.Connection, *, create: bool) -> bool:
        """Check the schema, and upgrade it when it is older (a new store:
        created when ``create``). False when there is no store to write to."""
        version = self._schema_version(connection)  # refuses a foreign file before changing it
        if version is None and not create:
            return False
        if version != SCHEMA_VERSION:
            connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; not inside a transaction
            with self._immediate(connection):
                self._upgrade(connection, self._schema_version(connection))  # again, under the lock
        self._ready = self._readable = True
        return True


# --- PostgreSQL ----------------------------------------------------------------


class PostgresBlockStore(_SQLBlockStore):
    _placeholder = "%s"
    _lock_row = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._ready = False

    def _tables(self, connection: Any) -> set[str]:
        row = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE, BLOCKS_TABLE)
        ).fetchone()
        return {table for table, present in zip((SCHEMA_TABLE, BLOCKS_TABLE), row, strict=False) if present}

    def _reason(self, exc: BaseException) -> str:
        reason = _first_line(exc)
        password = urlsplit(self.url).password
        return reason.replace(password, REDACTED) if password else reason

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        try:
            connection = psycopg.connect(self.url, connect_timeout=10)
        except (psycopg.Error, ValueError) as exc:  # ValueError: a malformed URL
            raise StoreError(
                f"Cannot connect to the block store at {redact_url(self.url)}: {self._reason(exc)}. "
                "Check LAUNCHBAY_DATABASE_URL and that the server is up."
            ) from None
        try:
            yield connection
        finally:
            connection.close()

    def _error(self, exc: BaseException, action: str) -> StoreError:
        import psycopg.errors

        where = f"the block store at {redact_url(self.url)}"
        reason = self._reason(exc)
        if isinstance(exc, (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            return StoreError(
                f"Cannot {action} {where}: {reason}; give its user write access, "
                "or set LAUNCHBAY_DATABASE_URL to a writable store."
            )
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"Cannot {action} {where}: {reason}. Check that the server is up, then try again."
            )
        return StoreError(f"Cannot {action} {where}: {reason}. Check LAUNCHBAY_DATABASE_URL.")

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any] | None]:
        import psycopg

        with self._connection() as connection:
            try:
                with connection.transaction():
                    readable = self._readable or self._schema_version(connection) is not None
                    if readable:
                        self._readable = True
                    yield connection if readable else None
            except psycopg.Error as exc:
                raise self._error(exc, "read") from None

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[psycopg.Connection[Any] | None]:
        import psycopg

        upgraded = False
        with self._connection() as connection:
            try:
                with connection.transaction():
                    if not self._ready:
                        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                        version = self._schema_version(connection)
                        if version is None and not create:
                            yield None
                            return
                        self._upgrade(connection, version)
                        upgraded = True
                    yield connection
            except psycopg.Error as exc:
                raise self._error(exc, "save to" if create else "change") from None
        if upgraded:  # only once the transaction has committed
            self._ready = self._readable = True


def open_store(url: str | None = None) -> BlockStore:
    """The store named by ``url``, or by the current settings."""
    if url is None:
        from launchbay.settings import get_current_settings

        settings = get_current_settings()
        url = settings.database_url
        if not url:
            return SQLiteBlockStore(settings.database_path, setting="LAUNCHBAY_HOME")
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
