"""The store against real databases: SQLite files and a real PostgreSQL server."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from launchbay import Process
from launchbay.blocks.store import BlockStore, open_store, redact_url
from launchbay.exceptions import BlockAlreadyExists, BlockError, StoreError

WRITER = """
import sys
from launchbay import Process
from launchbay.blocks.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[3])):
    Process(command=["echo", str(i)]).save(f"{sys.argv[2]}-{i}", store=store)
"""


def _concurrent_writers(url: str, prefix: str, count: int = 60) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, f"{prefix}{n}", str(count)]) for n in range(3)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/blocks.db"
    return request.getfixturevalue("postgres_url")


@pytest.mark.postgres
def test_round_trip_overwrite_delete(store_url: str) -> None:
    store = open_store(store_url)
    name = f"rt-{uuid.uuid4().hex[:8]}"
    Process(command=["echo", "1"]).save(name, store=store)
    with pytest.raises(BlockAlreadyExists):
        Process(command=["echo", "2"]).save(name, store=store)
    Process(command=["echo", "3"]).save(name, overwrite=True, store=store)
    assert Process.load(name, store=store).command == ["echo", "3"]
    assert name in [s.name for s in Process.list_saved(store=store)]
    Process.delete(name, store=store)
    assert name not in [s.name for s in Process.list_saved(store=store)]


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_writers_lose_nothing(store_url: str) -> None:
    prefix = f"cw{uuid.uuid4().hex[:6]}-"
    _concurrent_writers(store_url, prefix)
    store: BlockStore = open_store(store_url)
    names = {s.name for s in store.list("process") if s.name.startswith(prefix)}
    assert len(names) == 3 * 60
    assert Process.load(f"{prefix}2-59", store=store).command == ["echo", "59"]


@pytest.mark.postgres
def test_database_url_setting_selects_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", postgres_url)
    name = f"pg-{uuid.uuid4().hex[:8]}"
    Process(command=["echo", "pg"]).save(name)
    code = f"from launchbay import Process; print(Process.load({name!r}).command[1])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert out.stdout.strip() == "pg", out.stderr
    Process.delete(name)


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    store = open_store("postgresql://user:s3cret-pw@127.0.0.1:1/nothing")
    for operation in (store.list, lambda: store.get("process", "x"), lambda: store.delete("process", "x")):
        with pytest.raises(StoreError) as info:
            operation()
        message = str(info.value)
        assert "Cannot connect to the block store at postgresql://user:***@127.0.0.1:1/nothing" in message
        assert "LAUNCHBAY_DATABASE_URL" in message and "\n" not in message
        assert "s3cret-pw" not in message
        assert info.value.exit_code == 125
    with pytest.raises(StoreError, match="Cannot connect") as info:
        Process(command=["true"]).save("x", store=store)
    assert "s3cret-pw" not in str(info.value)


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(BlockError, match="Unsupported LAUNCHBAY_DATABASE_URL"):
        open_store("mysql://u:pw@h/db")
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
