"""A saved secret survives the documented round trip (``block load`` prints it
masked, ``block save --overwrite --file`` reads that back), and neither the mask
nor an empty secret is ever stored as a secret: API and installed CLI, SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from launchbay import Block, DockerContainer, DockerRegistry
from launchbay.blocks.core import SECRET_MASK, SecretStr
from launchbay.blocks.store import BlockStore, open_store
from launchbay.exceptions import BlockAlreadyExists, MaskedSecretError

LAUNCHBAY = shutil.which("launchbay") or str(Path(sys.executable).parent / "launchbay")
SECRET = "pw-Zq81-round-trip"


class Token(Block):
    _block_type_name: ClassVar[str] = "Round Trip Token"
    user: str
    token: SecretStr


class Account(Block):
    _block_type_name: ClassVar[str] = "Round Trip Account"
    tokens: list[Token] = []
    main: Token | None = None


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/blocks.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> BlockStore:
    return open_store(store_url)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def masked_copy(block: Block) -> Block:
    """What ``block load`` prints, read back as ``block save --file`` does."""
    return Block.from_document(json.loads(json.dumps(block.to_document())))


pytestmark = pytest.mark.postgres


# --- the API ------------------------------------------------------------------


def test_saving_the_masked_document_over_the_block_keeps_the_secret(store: BlockStore) -> None:
    name = unique("reg")
    DockerRegistry(username="me", password=SECRET, registry_url="r.example").save(name, store=store)
    document = DockerRegistry.load(name, store=store).to_document()
    assert document["data"]["password"] == SECRET_MASK
    document["data"]["username"] = "you"  # an edit of another field goes through
    DockerRegistry.from_document(document).save(name, overwrite=True, store=store)
    loaded = DockerRegistry.load(name, store=store)
    assert loaded.password.get_secret_value() == SECRET
    assert loaded.username == "you"


def test_nested_and_listed_secrets_are_kept_each_at_its_place(store: BlockStore) -> None:
    name = unique("acct")
    Account(
        tokens=[Token(user="a", token="tok-a"), Token(user="b", token="tok-b")],
        main=Token(user="m", token="tok-m"),
    ).save(name, store=store)
    again = masked_copy(Account.load(name, store=store))
    assert isinstance(again, Account)
    again.tokens[1] = Token(user="b", token="tok-b-new")  # one secret really changed
    again.save(name, overwrite=True, store=store)
    loaded = Account.load(name, store=store)
    assert [t.token.get_secret_value() for t in loaded.tokens] == ["tok-a", "tok-b-new"]
    assert loaded.main is not None and loaded.main.token.get_secret_value() == "tok-m"


def test_a_container_keeps_its_registry_password(store: BlockStore) -> None:
    name = unique("web")
    registry = DockerRegistry(username="me", password=SECRET, registry_url="r.example")
    DockerContainer(image="r.example/app:1", image_registry=registry).save(name, store=store)
    masked_copy(DockerContainer.load(name, store=store)).save(name, overwrite=True, store=store)
    loaded = DockerContainer.load(name, store=store)
    assert loaded.image_registry is not None
    assert loaded.image_registry.password.get_secret_value() == SECRET


def test_the_mask_with_no_saved_secret_to_keep_is_refused_and_nothing_is_stored(store: BlockStore) -> None:
    name = unique("reg")
    masked = DockerRegistry(username="me", password=SECRET_MASK, registry_url="r.example")
    with pytest.raises(MaskedSecretError, match=r"password is '\*{10}', the mask .* give the secret itself"):
        masked.save(name, store=store)
    with pytest.raises(MaskedSecretError):
        masked.save(name, overwrite=True, store=store)
    assert name not in [s.name for s in store.list()]
    # A saved block without that secret has none to keep either.
    Account(main=None).save(name, store=store)
    with pytest.raises(MaskedSecretError, match="main.token"):
        Account(main=Token(user="m", token=SECRET_MASK)).save(name, overwrite=True, store=store)
    assert Account.load(name, store=store).main is None


def test_the_mask_over_an_existing_block_without_overwrite_is_already_exists(store: BlockStore) -> None:
    name = unique("reg")
    DockerRegistry(username="me", password=SECRET, registry_url="r.example").save(name, store=store)
    with pytest.raises(BlockAlreadyExists):
        masked_copy(DockerRegistry.load(name, store=store)).save(name, store=store)
    assert DockerRegistry.load(name, store=store).password.get_secret_value() == SECRET


def test_an_empty_secret_is_refused(store: BlockStore) -> None:
    with pytest.raises(ValidationError, match="a secret cannot be empty"):
        DockerRegistry(username="me", password="", registry_url="r.example")
    registry = DockerRegistry(username="me", password=SECRET, registry_url="r.example")
    with pytest.raises(ValidationError, match="a secret cannot be empty"):
        registry.password = ""  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="a secret cannot be empty"):
        Block.from_document(
            {
                "block_type_slug": "docker-registry",
                "data": {"username": "me", "password": "", "registry_url": "r"},
            }
        )


def test_a_block_saved_with_an_empty_secret_still_loads(store: BlockStore) -> None:
    # Saved by an older launchbay, which let an empty password through.
    name = unique("old")
    document = {
        "block_type_slug": "docker-registry",
        "data": {"username": "me", "password": "", "registry_url": "r"},
    }
    store.put("docker-registry", name, document, overwrite=False)
    assert DockerRegistry.load(name, store=store).password.get_secret_value() == ""


# --- the installed CLI -----------------------------------------------------------


def launchbay(url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAUNCHBAY, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
        env={**os.environ, "LAUNCHBAY_DATABASE_URL": url},
    )


def save_registry(url: str, name: str, password_input: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return launchbay(
        url,
        "block",
        "save",
        "docker-registry",
        name,
        "--username",
        "me",
        "--password-stdin",
        "--registry-url",
        "r.example",
        *extra,
        input=password_input,
    )


def stored_password(url: str, name: str) -> str:
    return DockerRegistry.load(name, store=open_store(url)).password.get_secret_value()


def test_cli_load_then_save_overwrite_file_keeps_the_password(store_url: str, tmp_path: Path) -> None:
    name = unique("reg")
    assert save_registry(store_url, name, SECRET + "\n").returncode == 0
    loaded = launchbay(store_url, "block", "load", f"docker-registry/{name}")
    assert loaded.returncode == 0 and SECRET not in loaded.stdout and SECRET_MASK in loaded.stdout
    document = tmp_path / "r.json"
    document.write_text(loaded.stdout)
    saved = launchbay(
        store_url, "block", "save", "docker-registry", name, "--overwrite", "--file", str(document)
    )
    assert saved.returncode == 0, saved.stderr
    assert stored_password(store_url, name) == SECRET
    # Edited (another field), it is saved with the password kept.
    edited = json.loads(loaded.stdout)
    edited["data"]["reauth"] = False
    document.write_text(json.dumps(edited))
    saved = launchbay(store_url, "block", "save", "docker-registry", name, "--overwrite", "-f", str(document))
    assert saved.returncode == 0, saved.stderr
    assert stored_password(store_url, name) == SECRET
    assert DockerRegistry.load(name, store=open_store(store_url)).reauth is False


def test_cli_the_mask_under_a_new_name_is_refused_and_nothing_is_stored(
    store_url: str, tmp_path: Path
) -> None:
    name = unique("reg")
    assert save_registry(store_url, name, SECRET + "\n").returncode == 0
    document = tmp_path / "r.json"
    document.write_text(launchbay(store_url, "block", "load", f"docker-registry/{name}").stdout)
    copy = unique("copy")
    done = launchbay(store_url, "block", "save", "docker-registry", copy, "--file", str(document))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "the mask" in done.stderr, done.stderr
    assert copy not in [s.name for s in open_store(store_url).list()]
    assert stored_password(store_url, name) == SECRET


@pytest.mark.parametrize("empty", ["", "\n"], ids=["nothing", "newline"])
def test_cli_an_empty_password_stdin_is_refused_and_loses_nothing(store_url: str, empty: str) -> None:
    name = unique("reg")
    done = save_registry(store_url, name, empty)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "password" in done.stderr and "empty" in done.stderr
    assert name not in [s.name for s in open_store(store_url).list()]
    # Over a saved block: refused, and the saved password stays.
    assert save_registry(store_url, name, SECRET + "\n").returncode == 0
    done = save_registry(store_url, name, empty, "--overwrite")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert stored_password(store_url, name) == SECRET
