import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from launchbay import Block, Infrastructure, Process
from launchbay.blocks.core import SecretStr
from launchbay.exceptions import BlockAlreadyExists, BlockError, BlockNotFound


class Credentials(Block):
    _block_type_name: ClassVar[str] = "Test Credentials"
    username: str
    password: SecretStr


class Service(Block):
    _block_type_name: ClassVar[str] = "Test Service"
    _logo_url: ClassVar[str] = "https://example.invalid/logo.png"
    _block_schema_capabilities: ClassVar[list[str]] = ["call"]
    url: str
    credentials: Credentials | None = None


def test_type_name_slug_capabilities_and_schema() -> None:
    assert Service.get_block_type_slug() == "test-service"
    assert Process.get_block_type_slug() == "process"
    assert Process.get_block_capabilities() == ["run-infrastructure"]
    schema = Service.get_block_schema()
    assert schema["block_type_name"] == "Test Service"
    assert schema["logo_url"] == "https://example.invalid/logo.png"
    assert schema["secret_fields"] == ["credentials.password"]
    assert "url" in schema["properties"]


def test_save_and_load_round_trip(launchbay_home: Path) -> None:
    Process(command=["echo", "hi"], env={"A": "1", "B": None}).save("hello")
    loaded = Process.load("hello")
    assert loaded == Process(command=["echo", "hi"], env={"A": "1", "B": None})


def test_loading_through_the_base_class_dispatches_on_the_stored_type() -> None:
    Process(command=["true"], name="x").save("dispatch")
    for cls in (Block, Infrastructure):
        loaded = cls.load("process/dispatch")
        assert type(loaded) is Process and loaded.name == "x"
    with pytest.raises(BlockError, match="through its type"):
        Block.load("dispatch")


def test_saving_an_existing_name_needs_overwrite() -> None:
    Process(command=["true"]).save("twice")
    with pytest.raises(BlockAlreadyExists, match="overwrite=True"):
        Process(command=["false"]).save("twice")
    Process(command=["false"]).save("twice", overwrite=True)
    assert Process.load("twice").command == ["false"]


@pytest.mark.parametrize("name", ["My Block", "under_score", "-leading", "", "UPPER"])
def test_invalid_names_are_refused_with_a_suggestion(name: str) -> None:
    with pytest.raises(BlockError, match="lowercase letters, digits and dashes"):
        Process(command=["true"]).save(name)


def test_missing_name_error_lists_what_exists() -> None:
    with pytest.raises(BlockNotFound, match="no process blocks are saved yet"):
        Process.load("nope")
    Process(command=["true"]).save("one")
    Process(command=["true"]).save("two")
    with pytest.raises(BlockNotFound, match="saved process blocks: one, two"):
        Process.load("nope")


def test_delete_and_list() -> None:
    Process(command=["true"]).save("a")
    Service(url="http://x").save("b")
    assert [s.reference for s in Block.list_saved()] == ["process/a", "test-service/b"]
    assert [s.reference for s in Process.list_saved()] == ["process/a"]
    Process.delete("a")
    assert [s.reference for s in Block.list_saved()] == ["test-service/b"]
    with pytest.raises(BlockNotFound):
        Process.delete("a")


def test_secrets_are_stored_but_never_shown(launchbay_home: Path) -> None:
    service = Service(url="http://x", credentials=Credentials(username="me", password="hunter2-secret"))
    assert "hunter2-secret" not in repr(service)
    assert "hunter2-secret" not in str(service)
    assert "hunter2-secret" not in service.model_dump_json()
    assert "hunter2-secret" not in json.dumps(service.to_document())
    service.save("svc")
    raw = (launchbay_home / "launchbay.db").read_bytes()
    assert b"hunter2-secret" in raw or b"hunter2-secret" in (launchbay_home / "launchbay.db-wal").read_bytes()
    loaded = Service.load("svc")
    assert loaded.credentials is not None
    assert loaded.credentials.password.get_secret_value() == "hunter2-secret"


def test_nested_blocks_save_and_load_with_their_parent() -> None:
    Service(url="http://x", credentials=Credentials(username="me", password="pw")).save("nested")
    loaded = Block.load("test-service/nested")
    assert isinstance(loaded, Service) and isinstance(loaded.credentials, Credentials)
    assert loaded.credentials.username == "me"


def test_home_and_database_are_owner_only(launchbay_home: Path) -> None:
    Process(command=["true"]).save("perm")
    assert stat.S_IMODE(os.stat(launchbay_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(launchbay_home / "launchbay.db").st_mode) == 0o600


def test_json_round_trip_selects_the_class_by_type() -> None:
    original = Process(command=["echo"], env={"X": None}, labels={"a": "b"}, working_dir="/tmp")
    loaded = Infrastructure.model_validate_json(original.model_dump_json())
    assert type(loaded) is Process and loaded == original
    assert Block.from_document(original.to_document()) == original


def test_a_block_saved_in_one_process_loads_in_another(launchbay_home: Path) -> None:
    code = "from launchbay import Process; Process(command=['echo', 'from-child']).save('cross')"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    assert Process.load("cross").command == ["echo", "from-child"]


def test_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(BlockError, match="Unknown block type 'nope'; known types:"):
        Block.load("nope/x")
