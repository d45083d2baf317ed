"""A broken store, or a broken place for it, through the installed ``launchbay``
command: one line naming the store and what to do, exit 125, no traceback, and
nothing stored lost or changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from launchbay import Process
from launchbay.blocks.store import open_store
from launchbay.exceptions import StoreError
from tests.conftest import require

LAUNCHBAY = shutil.which("launchbay") or str(Path(sys.executable).parent / "launchbay")

PASSWORD = "pw-Zq81-never-print"


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (the test server trusts local users: it
    connects all the same, and the password must never show)."""
    scheme, _, rest = url.partition("://")
    userinfo, _, host = rest.rpartition("@")
    return f"{scheme}://{userinfo.split(':', 1)[0] or 'postgres'}:{password}@{host}"


# root ignores file modes; without these capabilities it obeys them like anyone.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def launchbay(
    *args: str, env: dict[str, str] | None = None, unprivileged: bool = False, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [LAUNCHBAY, *args]
    if unprivileged and os.geteuid() == 0:
        require(shutil.which("setpriv") is not None, "setpriv (util-linux) is needed to test as root")
        command = [*NO_OVERRIDE, *command]
    return subprocess.run(
        command, capture_output=True, text=True, input=input, timeout=120, env={**os.environ, **(env or {})}
    )


def assert_store_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 125 and one line on stderr that says each of ``needles``."""
    assert done.returncode == 125, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], done.stderr


def digest(*paths: Path) -> dict[str, str | None]:
    """The bytes of each file (and of any -wal/-shm beside it), as hashes."""
    seen: dict[str, str | None] = {}
    for path in paths:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            seen[str(candidate)] = (
                hashlib.sha256(candidate.read_bytes()).hexdigest() if candidate.exists() else None
            )
    return seen


@pytest.fixture
def saved_store(launchbay_home: Path) -> Iterator[Path]:
    """A store in HOME holding process/keep; HOME made writable again afterwards."""
    assert launchbay("block", "save", "process", "keep", "--", "echo", "kept").returncode == 0
    yield launchbay_home / "launchbay.db"
    for path in (launchbay_home, *launchbay_home.iterdir()):
        path.chmod(0o700 if path.is_dir() else 0o600)


def test_a_plain_ls_creates_neither_home_nor_the_store(launchbay_home: Path) -> None:
    done = launchbay("block", "ls")
    assert done.returncode == 0 and "no blocks saved yet" in done.stderr
    assert launchbay("block", "ls", "--json").stdout.strip() == "[]"
    assert launchbay("block", "load", "process/x").returncode == 2
    assert launchbay("block", "rm", "process/x").returncode == 2
    assert not launchbay_home.exists()


def test_a_store_of_random_bytes_is_one_line_and_left_as_it_is(launchbay_home: Path) -> None:
    launchbay_home.mkdir(mode=0o700)
    store = launchbay_home / "launchbay.db"
    store.write_bytes(os.urandom(8192))
    before = digest(store)
    for args in (
        ("block", "ls"),
        ("block", "load", "process/x"),
        ("block", "save", "process", "x", "--", "true"),
        ("block", "rm", "process/x"),
    ):
        assert_store_error(launchbay(*args), str(store), "not a usable launchbay block store", "move it away")
    assert digest(store) == before


def test_a_database_of_another_program_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    store = tmp_path / "other.db"
    with sqlite3.connect(store) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.close()
    before = digest(store)
    env = {"LAUNCHBAY_DATABASE_URL": f"sqlite:///{store}"}
    for args in (("block", "ls"), ("block", "save", "process", "x", "--", "true")):
        assert_store_error(
            launchbay(*args, env=env),
            str(store),
            "not a launchbay block store",
            "notes",
            "LAUNCHBAY_DATABASE_URL",
        )
    assert digest(store) == before


def test_saving_to_a_read_only_store_is_one_line_and_loses_nothing(saved_store: Path) -> None:
    saved_store.chmod(0o444)
    before = digest(saved_store)
    done = launchbay("block", "save", "process", "new", "--", "true", unprivileged=True)
    assert_store_error(done, str(saved_store), "read-only", "writable")
    done = launchbay("block", "save", "process", "keep", "--overwrite", "--", "false", unprivileged=True)
    assert_store_error(done, str(saved_store), "read-only")
    assert_store_error(launchbay("block", "rm", "process/keep", unprivileged=True), "read-only")
    assert digest(saved_store) == before
    saved_store.chmod(0o600)
    assert Process.load("keep").command == ["echo", "kept"]
    assert [s.name for s in Process.list_saved()] == ["keep"]


@pytest.mark.parametrize("directory_too", [False, True], ids=["file", "file-and-home"])
def test_listing_and_loading_a_read_only_store_works_and_leaves_no_files(
    saved_store: Path, directory_too: bool
) -> None:
    saved_store.chmod(0o444)
    if directory_too:
        saved_store.parent.chmod(0o500)
    before = sorted(os.listdir(saved_store.parent))
    listed = launchbay("block", "ls", unprivileged=True)
    assert listed.returncode == 0 and "process/keep" in listed.stdout, listed.stderr
    loaded = launchbay("block", "load", "process/keep", unprivileged=True)
    assert loaded.returncode == 0 and '"kept"' in loaded.stdout, loaded.stderr
    # Nothing left behind (a read-only -wal/-shm would break the owner's next write).
    assert sorted(os.listdir(saved_store.parent)) == before
    saved_store.parent.chmod(0o700)
    saved_store.chmod(0o600)
    assert launchbay("block", "save", "process", "after", "--", "true", unprivileged=True).returncode == 0


def test_a_home_that_is_a_file_is_one_line_and_the_file_is_kept(launchbay_home: Path) -> None:
    launchbay_home.write_text("not a directory")
    for args in (
        ("block", "ls"),
        ("block", "save", "process", "x", "--", "true"),
        ("block", "load", "process/x"),
    ):
        assert_store_error(launchbay(*args), "LAUNCHBAY_HOME", str(launchbay_home), "not a directory")
    assert launchbay_home.read_text() == "not a directory"


def test_a_home_that_is_not_writable_lists_but_refuses_saves_in_one_line(launchbay_home: Path) -> None:
    launchbay_home.mkdir(mode=0o500)
    try:
        listed = launchbay("block", "ls", unprivileged=True)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr
        done = launchbay("block", "save", "process", "x", "--", "true", unprivileged=True)
        assert_store_error(done, str(launchbay_home / "launchbay.db"), "Permission denied", "LAUNCHBAY_HOME")
        # Neither can HOME be created in a directory that is not writable.
        nested = launchbay_home / "inner"
        done = launchbay(
            "block",
            "save",
            "process",
            "x",
            "--",
            "true",
            env={"LAUNCHBAY_HOME": str(nested)},
            unprivileged=True,
        )
        assert_store_error(done, str(nested), "Permission denied")
        assert os.listdir(launchbay_home) == []
    finally:
        launchbay_home.chmod(0o700)


@pytest.mark.parametrize(
    ("mode", "who"), [(0o770, "its group"), (0o707, "others"), (0o777, "its group and others")]
)
def test_a_home_writable_by_others_is_warned_about(saved_store: Path, mode: int, who: str) -> None:
    home = saved_store.parent
    home.chmod(mode)
    done = launchbay("block", "ls")
    assert done.returncode == 0 and "process/keep" in done.stdout
    assert f"is writable by {who}, who" in done.stderr and f"chmod go-w {home}" in done.stderr
    assert "Traceback" not in done.stderr
    # The API: a UserWarning and a log record (SPEC 8).
    with pytest.warns(UserWarning, match=f"LAUNCHBAY_HOME .* is writable by {who}, who"):
        assert [s.name for s in open_store().list()] == ["keep"]
    home.chmod(0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_store().list()
    assert "writable" not in launchbay("block", "ls").stderr


def test_a_home_writable_by_others_is_logged_too(saved_store: Path, caplog: pytest.LogCaptureFixture) -> None:
    saved_store.parent.chmod(0o770)
    with pytest.warns(UserWarning), caplog.at_level("WARNING", logger="launchbay.blocks.store"):
        open_store().list()
    assert any("is writable by its group" in record.getMessage() for record in caplog.records)


def test_the_api_raises_store_errors_with_exit_code_125(launchbay_home: Path) -> None:
    launchbay_home.write_text("x")
    with pytest.raises(StoreError, match="not a directory") as info:
        Process(command=["true"]).save("x")
    assert info.value.exit_code == 125


@pytest.mark.postgres
def test_an_unreachable_postgres_is_one_line_without_the_password() -> None:
    env = {"LAUNCHBAY_DATABASE_URL": f"postgresql://me:{PASSWORD}@127.0.0.1:1/db"}
    for args in (
        ("block", "ls"),
        ("block", "save", "process", "x", "--", "true"),
        ("block", "load", "process/x"),
    ):
        done = launchbay(*args, env=env)
        assert_store_error(done, "postgresql://me:***@127.0.0.1:1/db", "LAUNCHBAY_DATABASE_URL")
        assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.postgres
def test_saving_to_a_read_only_postgres_is_one_line_and_loses_nothing(postgres_url: str) -> None:
    name = f"ro-{uuid.uuid4().hex[:8]}"
    env = {"LAUNCHBAY_DATABASE_URL": postgres_url}
    assert launchbay("block", "save", "process", name, "--", "echo", "kept", env=env).returncode == 0
    separator = "&" if "?" in postgres_url else "?"
    read_only = with_password(
        f"{postgres_url}{separator}options={quote('-cdefault_transaction_read_only=on')}", PASSWORD
    )
    try:
        ro_env = {"LAUNCHBAY_DATABASE_URL": read_only}
        done = launchbay("block", "save", "process", name, "--overwrite", "--", "false", env=ro_env)
        assert_store_error(done, "Cannot save to the block store at postgresql://", "read-only", ":***@")
        assert_store_error(launchbay("block", "rm", f"process/{name}", env=ro_env), "read-only")
        listed = launchbay("block", "ls", env=ro_env)
        assert listed.returncode == 0 and f"process/{name}" in listed.stdout
        assert PASSWORD not in done.stderr + listed.stdout + listed.stderr
        assert Process.load(name, store=open_store(postgres_url)).command == ["echo", "kept"]
    finally:
        Process.delete(name, store=open_store(postgres_url))


def test_the_store_file_and_home_stay_owner_only(launchbay_home: Path) -> None:
    assert launchbay("block", "save", "process", "x", "--", "true").returncode == 0
    assert stat.S_IMODE(launchbay_home.stat().st_mode) == 0o700
    assert stat.S_IMODE((launchbay_home / "launchbay.db").stat().st_mode) == 0o600
