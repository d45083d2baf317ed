"""The store's versioned schema, every version's statements in one place.

The block store (``launchbay.blocks.store``) and the run records
(``launchbay._internal.records.store``) share one database. Both read the
migrations from here, so that whichever of them writes first to an older store
upgrades it to the same schema, in one transaction (SPEC 3.1, 14). It lives
under ``_internal`` because ``_internal`` code may not import
``launchbay.blocks`` (and the run records are written on the CLI's fast path,
which must not load pydantic).

The statements are plain SQL that SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from typing import Any

SCHEMA_TABLE = "launchbay_schema"
BLOCKS_TABLE = "launchbay_blocks"
RUNS_TABLE = "launchbay_runs"

# The columns of a run record, in the order the record store reads them.
RUN_COLUMNS = (
    "id",
    "name",
    "kind",
    "infrastructure_pid",
    "command",
    "labels",
    "block",
    "status",
    "status_code",
    "exit_reason",
    "reason",
    "created",
    "ended",
    "supervisor",
    "detached",
    "log",
)

# MIGRATIONS[n - 1] takes a store from version n - 1 to version n. Version 0 is
# a store from before versioning: it may already hold the blocks table, hence
# IF NOT EXISTS.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE IF NOT EXISTS {BLOCKS_TABLE} (
            type_slug TEXT NOT NULL,
            name TEXT NOT NULL,
            document TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (type_slug, name)
        )""",
    ),
    # 2: run records (SPEC 14). Times are seconds since the epoch (UTC);
    # command and labels are JSON; a name is unique while a record holds it
    # (NULLs are distinct in both databases).
    (
        f"""CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (
            id TEXT NOT NULL PRIMARY KEY,
            name TEXT UNIQUE,
            kind TEXT NOT NULL,
            infrastructure_pid TEXT,
            command TEXT NOT NULL,
            labels TEXT NOT NULL,
            block TEXT,
            status TEXT NOT NULL,
            status_code INTEGER,
            exit_reason TEXT,
            reason TEXT,
            created DOUBLE PRECISION NOT NULL,
            ended DOUBLE PRECISION,
            supervisor TEXT,
            detached INTEGER NOT NULL DEFAULT 0,
            log TEXT
        )""",
        f"CREATE INDEX IF NOT EXISTS {RUNS_TABLE}_status ON {RUNS_TABLE} (status, created)",
        f"CREATE INDEX IF NOT EXISTS {RUNS_TABLE}_pid ON {RUNS_TABLE} (infrastructure_pid)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# The advisory lock that serialises schema upgrades between PostgreSQL writers
# (CREATE TABLE IF NOT EXISTS races between fresh concurrent writers).
PG_SCHEMA_LOCK = 7213431


def upgrade(connection: Any, version: int | None, placeholder: str = "?") -> None:
    """Bring the store from ``version`` (None: a new store) to
    ``SCHEMA_VERSION``, inside the caller's write transaction."""
    start = version or 0
    for statements in MIGRATIONS[start:]:
        for statement in statements:
            connection.execute(statement)
    if start < SCHEMA_VERSION:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER NOT NULL)")
        connection.execute(f"DELETE FROM {SCHEMA_TABLE}")
        connection.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES ({placeholder})", (SCHEMA_VERSION,))
