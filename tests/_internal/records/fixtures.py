"""Stores for the run-record tests: a SQLite file, and a schema of its own on
the real PostgreSQL server (dropped afterwards)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import Database, database, postgres_database  # noqa: F401 - fixture


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """LAUNCHBAY_DATABASE_URL for the test: unset (the default SQLite file in
    LAUNCHBAY_HOME), or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{launchbay_home / 'launchbay.db'}"
        return
    for made in postgres_database(request.getfixturevalue("postgres_url")):
        monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", made.url)
        yield made.url


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
