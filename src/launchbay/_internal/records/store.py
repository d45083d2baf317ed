"""The run records in the store: SQLite (the default file in
``LAUNCHBAY_HOME``) or PostgreSQL, the same database as the saved blocks.

Every write is one short transaction; SQLite writers take the write lock up
front (``BEGIN IMMEDIATE``) and queue on it, so concurrent runs lose nothing.
A store object keeps its one connection until ``close()``: a foreground run
writes its record at the start and at the end over the same connection.

Stdlib only on the SQLite path (the CLI's fast path records every run);
psycopg is imported when the URL names PostgreSQL. The schema comes from
``schema``: a write to a store of an older version upgrades it in place, as
the block store does; reads never create or change anything.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from launchbay._internal.records import schema
from launchbay._internal.records.model import AmbiguousRun, RunNameInUse, RunNotFound, RunRecord, RunStatus
from launchbay._internal.urls import redact_url
from launchbay.exceptions import StoreError

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg

_COLUMNS = ", ".join(schema.RUN_COLUMNS)
_SELECT = f"SELECT {_COLUMNS} FROM {schema.RUNS_TABLE}"
_HEX = frozenset("0123456789abcdef")
# How long a PostgreSQL server that has no connection left is waited for.
_CONNECT_WAIT_SECONDS = 30.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


class RecordStore:
    """The queries, shared by both databases; subclasses open the connection,
    keep the schema current and turn their errors into ``StoreError``."""

    url: str
    _placeholder = "?"
    keep_open = True  # keep the connection between transactions (until close())

    # --- per database ------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Any | None]:
        """A read transaction; None when the store holds no run records yet."""
        raise NotImplementedError
        yield

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[Any | None]:
        """A write transaction on a current schema; with ``create=False``, None
        when the store holds no run records yet."""
        raise NotImplementedError
        yield

    def _is_name_conflict(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return redact_url(self.url)

    def _sql(self, query: str) -> str:
        return query.replace("?", self._placeholder)

    # --- writes --------------------------------------------------------------------

    def insert(self, record: RunRecord) -> None:
        """Add ``record``; ``RunNameInUse`` when another record holds its name."""
        placeholders = ", ".join("?" for _ in schema.RUN_COLUMNS)
        try:
            with self._write() as connection:
                assert connection is not None  # create=True: there is always a store to write
                connection.execute(
                    self._sql(f"INSERT INTO {schema.RUNS_TABLE} ({_COLUMNS}) VALUES ({placeholders})"),
                    record.to_row(),
                )
        except StoreError as exc:
            if record.name is not None and self._is_name_conflict(exc.__cause__ or exc):
                raise self._name_in_use(record.name) from None
            raise

    def _name_in_use(self, name: str) -> RunNameInUse:
        holder = self._select_one("name = ?", (name,))
        which = f" by run {holder.short_id} ({holder.status})" if holder else ""
        return RunNameInUse(
            f"The run name {name!r} is already in use{which}: remove that record "
            f"(launchbay rm {name}) or choose another name."
        )

    def set_started(self, run_id: str, infrastructure_pid: str, *, engine_holds: bool = False) -> None:
        """The run has started as ``infrastructure_pid``; ``engine_holds``: its
        engine holds it from now on and no launchbay process watches it."""
        supervisor = ", supervisor = NULL" if engine_holds else ""
        with self._write() as connection:
            assert connection is not None
            connection.execute(
                self._sql(f"UPDATE {schema.RUNS_TABLE} SET infrastructure_pid = ?{supervisor} WHERE id = ?"),
                (infrastructure_pid, run_id),
            )

    def set_end(
        self,
        run_id: str,
        *,
        status: RunStatus,
        status_code: int | None,
        exit_reason: str | None,
        reason: str | None,
        ended: float | None = None,
    ) -> bool:
        """Record how the run ended, once: False when an end was already
        recorded (the first one to learn it wins)."""
        with self._write(create=False) as connection:
            if connection is None:
                return False
            cursor = connection.execute(
                self._sql(
                    f"UPDATE {schema.RUNS_TABLE} SET status = ?, status_code = ?, exit_reason = ?, "
                    "reason = ?, ended = ? WHERE id = ? AND status = ?"
                ),
                (
                    status.value,
                    status_code,
                    exit_reason,
                    reason,
                    time.time() if ended is None else ended,
                    run_id,
                    RunStatus.RUNNING.value,
                ),
            )
            return bool(cursor.rowcount > 0)

    def delete(self, run_ids: Sequence[str]) -> int:
        if not run_ids:
            return 0
        with self._write(create=False) as connection:
            if connection is None:
                return 0
            marks = ", ".join("?" for _ in run_ids)
            cursor = connection.execute(
                self._sql(f"DELETE FROM {schema.RUNS_TABLE} WHERE id IN ({marks})"), tuple(run_ids)
            )
            return int(cursor.rowcount)

    # --- reads ---------------------------------------------------------------------------

    def _select(
        self, where: str = "", params: tuple[Any, ...] = (), order: str = "created DESC"
    ) -> list[RunRecord]:
        query = _SELECT + (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
        with self._read() as connection:
            if connection is None:
                return []
            rows = connection.execute(self._sql(query), params).fetchall()
        return [RunRecord.from_row(tuple(row)) for row in rows]

    def _select_one(self, where: str, params: tuple[Any, ...]) -> RunRecord | None:
        found = self._select(where, params)
        return found[0] if found else None

    def get(self, run_id: str) -> RunRecord | None:
        return self._select_one("id = ?", (run_id,))

    def records(self, *, running_only: bool = False) -> list[RunRecord]:
        if running_only:
            return self._select("status = ?", (RunStatus.RUNNING.value,))
        return self._select()

    def finished_before(self, moment: float | None) -> list[RunRecord]:
        """Finished records that ended (or, lost, were created) before ``moment``
        (None: all finished records)."""
        where, params = "status <> ?", (RunStatus.RUNNING.value,)
        if moment is None:
            return self._select(where, params)
        return self._select(f"{where} AND COALESCE(ended, created) < ?", (*params, moment))

    def resolve(self, reference: str) -> RunRecord:
        """The record ``reference`` names, as Docker resolves a container: a
        whole id, else a name, else an infrastructure pid, else a unique id
        prefix. ``RunNotFound`` / ``AmbiguousRun`` otherwise."""
        text = reference.strip()
        if not text:
            raise RunNotFound("No run is named by an empty reference.")
        found = self._select_one("id = ?", (text.lower(),)) or self._select_one("name = ?", (text,))
        if found is not None:
            return found
        if ":" in text:
            by_pid = self._select("infrastructure_pid = ?", (text,))
            base, at, start = text.rpartition("@")
            if not by_pid and at and start.isdigit():  # HOST:PID@START names the run reported as HOST:PID
                by_pid = self._select("infrastructure_pid = ?", (base,))
            if by_pid:
                # A process pid can name an earlier run too (the kernel reuses pids): the
                # running one, else the newest.
                running = [record for record in by_pid if not record.finished]
                return (running or by_pid)[0]
        prefix = text.lower()
        if _HEX.issuperset(prefix):
            matches = self._select("id >= ? AND id < ?", (prefix, prefix + "g"))
            if len(matches) == 1:
                return matches[0]
            if matches:
                shown = ", ".join(record.short_id for record in matches[:5])
                raise AmbiguousRun(
                    f"{reference!r} matches {len(matches)} runs ({shown}{', ...' if len(matches) > 5 else ''}): "
                    "give more of the id."
                )
        raise RunNotFound(
            f"No run {reference!r}: it is no run id, name or infrastructure pid in {self.describe()} "
            "(see `launchbay ps -a`)."
        )


# --- SQLite ------------------------------------------------------------------------------


class SQLiteRecordStore(RecordStore):
    """The records in a SQLite file. ``setting`` names what chose the file, for
    messages: ``LAUNCHBAY_HOME`` for the default store."""

    def __init__(self, path: str | os.PathLike[str], *, setting: str = "LAUNCHBAY_DATABASE_URL") -> None:
        # The file as text: ``pathlib`` costs the CLI's fast path milliseconds.
        self.file = os.fspath(path)
        self.url = f"sqlite:///{self.file}"
        self.setting = setting
        self._connection: sqlite3.Connection | None = None
        self._ready = False  # the schema was found current by this object
        # One connection, shared by the threads of a process that records many
        # runs: one transaction at a time.
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.file)

    def describe(self) -> str:
        return self.file

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _is_name_conflict(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "name" in str(exc)

    def _error(self, exc: sqlite3.Error, action: str) -> StoreError:
        hint = f"set {self.setting} to another {'directory' if self.setting == 'LAUNCHBAY_HOME' else 'store'}"
        return StoreError(f"Cannot {action} the run records in {self.file}: {_first_line(exc)}; {hint}.")

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.file, timeout=30, isolation_level=None, check_same_thread=False)
            # A committed record survives a crash of any process; only a power
            # loss may take the last ones (WAL, as the block store uses).
            connection.execute("PRAGMA synchronous=NORMAL")
            self._connection = connection
        return self._connection

    def _create_file(self) -> None:
        """HOME (0700) and the file (0600) are made before SQLite touches them."""
        directory = os.path.dirname(self.file) or "."
        try:
            info = os.stat(directory)
        except FileNotFoundError:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the run records in {self.file}: {exc.strerror or exc} ({directory})."
                ) from None
        else:
            if not stat.S_ISDIR(info.st_mode):
                raise StoreError(f"{self.setting} {directory} is not a directory: point it at a directory.")
        if not os.path.exists(self.file):
            try:
                os.close(os.open(self.file, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the run records in {self.file}: {exc.strerror or exc}."
                ) from None

    def _version(self, connection: sqlite3.Connection) -> int | None:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        }
        return _version_of(self, connection, tables, foreign_allowed=False)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        with self._lock, self._read_unlocked() as connection:
            yield connection

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[sqlite3.Connection | None]:
        with self._lock, self._write_unlocked(create=create) as connection:
            yield connection

    @contextmanager
    def _read_unlocked(self) -> Iterator[sqlite3.Connection | None]:
        if not os.path.exists(self.file):
            yield None
            return
        try:
            connection = self._connect()
            connection.execute("BEGIN")
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        try:
            if not self._ready:
                version = self._version(connection)
                if version is None or version < 2:  # no run records in this store yet
                    yield None
                    return
                self._ready = version == schema.SCHEMA_VERSION
            yield connection
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")

    @contextmanager
    def _write_unlocked(self, *, create: bool = True) -> Iterator[sqlite3.Connection | None]:
        action = "write"
        if create:
            self._create_file()
        elif not os.path.exists(self.file):
            yield None
            return
        try:
            connection = self._connect()
            if not self._ready and not self._prepare(connection, create=create):
                yield None
                return
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc, action) from exc
        try:
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc, action) from exc
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")

    def _prepare(self, connection: sqlite3.Connection, *, create: bool) -> bool:
        """Check the schema and upgrade an older one (a new store only when
        ``create``). False when there is nothing to write to."""
        version = self._version(connection)
        if version is None and not create:
            return False
        if version != schema.SCHEMA_VERSION:
            connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; not inside a transaction
            connection.execute("BEGIN IMMEDIATE")
            try:
                schema.upgrade(connection, self._version(connection))  # again, under the lock
                connection.execute("COMMIT")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
        self._ready = True
        return True


def _version_of(
    store: RecordStore, connection: Any, tables: set[str], *, foreign_allowed: bool
) -> int | None:
    """The store's schema version (None: a new store); ``StoreError`` for one
    launchbay cannot use (another program's database, a newer schema)."""
    if schema.SCHEMA_TABLE in tables:
        row = connection.execute(f"SELECT max(version) FROM {schema.SCHEMA_TABLE}").fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
    elif schema.BLOCKS_TABLE in tables:
        version = 0
    elif tables and not foreign_allowed:
        raise StoreError(
            f"{store.describe()} is not a launchbay store (it holds other tables) and launchbay "
            "leaves it alone; set LAUNCHBAY_DATABASE_URL or LAUNCHBAY_HOME elsewhere."
        )
    else:
        return None
    if version > schema.SCHEMA_VERSION:
        raise StoreError(
            f"The store {store.describe()} has schema version {version}, newer than this launchbay "
            f"knows ({schema.SCHEMA_VERSION}): upgrade launchbay to use it."
        )
    return version


# --- PostgreSQL ----------------------------------------------------------------------------


class PostgresRecordStore(RecordStore):
    """The records on a PostgreSQL server. A connection is opened for each
    transaction unless ``keep_open`` (a command that makes several): a
    foreground run holds none while it runs, so hundreds of runs do not hold
    hundreds of the server's connections."""

    _placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self.keep_open = False
        self._connection: psycopg.Connection[Any] | None = None
        self._ready = False
        self._lock = threading.RLock()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _is_name_conflict(self, exc: BaseException) -> bool:
        import psycopg.errors

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def _reason(self, exc: BaseException) -> str:
        from urllib.parse import urlsplit

        reason = _first_line(exc)
        password = urlsplit(self.url).password
        return reason.replace(password, "***") if password else reason

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        from launchbay._internal.retry import Backoff

        if self._connection is not None and self._connection.closed:
            self._connection = None
        if self._connection is not None:
            return self._connection
        # A server with all its connections taken ("too many clients") is
        # waited for a while: many runs may end at the same moment.
        deadline = time.monotonic() + _CONNECT_WAIT_SECONDS
        backoff = Backoff(0.05, 1.0)
        while True:
            try:
                self._connection = psycopg.connect(self.url, connect_timeout=10, autocommit=True)
                return self._connection
            except (psycopg.Error, ValueError) as exc:
                busy = isinstance(exc, psycopg.OperationalError) and "too many" in str(exc).lower()
                if not busy or time.monotonic() + backoff.peek() > deadline:
                    raise StoreError(
                        f"Cannot connect to the store at {self.describe()}: {self._reason(exc)}. "
                        "Check LAUNCHBAY_DATABASE_URL and that the server is up."
                    ) from None
            time.sleep(backoff.next())

    def _tables(self, connection: psycopg.Connection[Any]) -> set[str]:
        names = (schema.SCHEMA_TABLE, schema.BLOCKS_TABLE, schema.RUNS_TABLE)
        row = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
            names,
        ).fetchone()
        return {name for name, present in zip(names, row or (), strict=False) if present}

    @contextmanager
    def _transaction(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        with self._lock, self._transaction_unlocked(action) as connection:
            yield connection

    @contextmanager
    def _transaction_unlocked(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        connection = self._connect()
        try:
            with connection.transaction():
                yield connection
        except psycopg.Error as exc:
            if connection.closed or isinstance(exc, psycopg.OperationalError):
                self.close()  # reconnect next time (a restarted server)
            raise StoreError(
                f"Cannot {action} the run records at {self.describe()}: {self._reason(exc)}."
            ) from exc

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any] | None]:
        with self._transaction("read") as connection:
            if not self._ready:
                if schema.RUNS_TABLE not in self._tables(connection):
                    yield None
                    return
                self._ready = _version_of(
                    self, connection, self._tables(connection), foreign_allowed=True
                ) == (schema.SCHEMA_VERSION)
            yield connection

    @contextmanager
    def _write(self, *, create: bool = True) -> Iterator[psycopg.Connection[Any] | None]:
        with self._transaction("write") as connection:
            if not self._ready:
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (schema.PG_SCHEMA_LOCK,))
                version = _version_of(self, connection, self._tables(connection), foreign_allowed=True)
                if version is None and not create:
                    yield None
                    return
                schema.upgrade(connection, version, self._placeholder)
            yield connection
        self._ready = True  # only once the transaction has committed


def open_record_store(url: str | None = None) -> RecordStore:
    """The store ``url`` names, else the one the environment's settings name
    (read without building the settings model)."""
    if url is None:
        from launchbay._internal.settings_source import FIELDS, normalize_home_text, read_environment

        environment = read_environment()
        url = environment.get("database_url") or None
        if url is None:
            home = normalize_home_text(environment.get("home") or FIELDS["home"][0])
            return SQLiteRecordStore(os.path.join(home, "launchbay.db"), setting="LAUNCHBAY_HOME")
    from urllib.parse import urlsplit, urlunsplit

    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        if path.startswith("//"):
            path = path[1:]  # sqlite:////abs
        if not path:
            raise StoreError(
                "LAUNCHBAY_DATABASE_URL=sqlite:// needs a file path, e.g. sqlite:////tmp/launchbay.db"
            )
        return SQLiteRecordStore(os.path.expanduser(path))
    if scheme in ("postgresql", "postgres"):
        return PostgresRecordStore(urlunsplit(urlsplit(url)._replace(scheme="postgresql")))
    raise StoreError(
        f"Unsupported LAUNCHBAY_DATABASE_URL {redact_url(url)!r}: "
        "use sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
    )
