"""``Block``: a typed pydantic document with a type name, a schema and persistence."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, SerializationInfo, ValidationInfo

from launchbay.blocks.store import BlockStore, SavedBlock, open_store
from launchbay.exceptions import BlockError, BlockNotFound, MaskedSecretError

B = TypeVar("B", bound="Block")

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NAME_MAX_LENGTH = 128

# Built-in block types, imported only when a document of that type is loaded.
BUILTIN_BLOCK_TYPES: dict[str, str] = {
    "process": "launchbay.infrastructure.process:Process",
    "docker-container": "launchbay.infrastructure.container:DockerContainer",
    "kubernetes-job": "launchbay.infrastructure.kubernetes:KubernetesJob",
    "docker-registry": "launchbay.blocks.docker:DockerRegistry",
    "kubernetes-cluster-config": "launchbay.blocks.kubernetes:KubernetesClusterConfig",
}


SECRET_MASK = str(pydantic.SecretStr("secret"))
"""What a secret shows instead of itself: ``**********``."""

# Validation context of documents read back from the store: they load as they
# were saved, even a secret that is empty (saved before empty ones were refused).
_STORED = "launchbay_stored"


def _serialize_secret(value: pydantic.SecretStr, info: SerializationInfo) -> str:
    if info.context and info.context.get("reveal_secrets"):
        return value.get_secret_value()
    return str(value)  # "**********"


def _refuse_empty_secret(value: pydantic.SecretStr, info: ValidationInfo) -> pydantic.SecretStr:
    if not value.get_secret_value() and not (info.context and info.context.get(_STORED)):
        raise ValueError("a secret cannot be empty")
    return value


SecretStr = Annotated[
    pydantic.SecretStr,
    AfterValidator(_refuse_empty_secret),
    PlainSerializer(_serialize_secret, when_used="json"),
]
"""A secret field: never empty; masked in repr and JSON, revealed only to the
block store (``model_dump_json(context={"reveal_secrets": True})``). Saving a
block whose secret holds the mask keeps the secret already saved (see
``Block.save``)."""


def slug_of(type_name: str) -> str:
    """Kebab-case of a block type name: "Docker Container" -> "docker-container"."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", type_name)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")


def validate_block_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > NAME_MAX_LENGTH:
        suggestion = slug_of(str(name))[:NAME_MAX_LENGTH] or "my-block"
        raise BlockError(
            f"Invalid block name {name!r}: use lowercase letters, digits and dashes, "
            f"starting with a letter or digit (for example {suggestion!r})."
        )
    return name


class Block(BaseModel):
    """Base class of every block.

    Subclasses set ``_block_type_name`` (the slug is derived from it), and may
    set ``_logo_url``, ``_documentation_url`` and ``_block_schema_capabilities``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    _block_type_name: ClassVar[str | None] = None
    _block_type_slug: ClassVar[str | None] = None
    _logo_url: ClassVar[str | None] = None
    _documentation_url: ClassVar[str | None] = None
    _block_schema_capabilities: ClassVar[list[str]] = []
    _registry: ClassVar[dict[str, type[Block]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "_block_type_name" in cls.__dict__ and cls._block_type_name:
            if "_block_type_slug" not in cls.__dict__ or not cls._block_type_slug:
                cls._block_type_slug = slug_of(cls._block_type_name)
            Block._registry[cls._block_type_slug] = cls

    # --- type information -------------------------------------------------

    @classmethod
    def get_block_type_name(cls) -> str:
        return cls._block_type_name or cls.__name__

    @classmethod
    def get_block_type_slug(cls) -> str:
        return cls._block_type_slug or slug_of(cls.get_block_type_name())

    @classmethod
    def get_block_capabilities(cls) -> list[str]:
        capabilities: set[str] = set()
        for klass in cls.__mro__:
            capabilities.update(klass.__dict__.get("_block_schema_capabilities", []) or [])
        return sorted(capabilities)

    @classmethod
    def get_block_schema(cls) -> dict[str, Any]:
        """The JSON schema of the block's fields, with its type metadata."""
        schema = cls.model_json_schema()
        schema["block_type_name"] = cls.get_block_type_name()
        schema["block_type_slug"] = cls.get_block_type_slug()
        schema["block_schema_capabilities"] = cls.get_block_capabilities()
        if cls._logo_url:
            schema["logo_url"] = cls._logo_url
        if cls._documentation_url:
            schema["documentation_url"] = cls._documentation_url
        secret_fields = _secret_field_names(cls)
        if secret_fields:
            schema["secret_fields"] = secret_fields
        return schema

    @staticmethod
    def block_class_for(type_slug: str) -> type[Block]:
        """The block class registered for ``type_slug`` (built-ins load on demand)."""
        if type_slug not in Block._registry and type_slug in BUILTIN_BLOCK_TYPES:
            module_name, _, class_name = BUILTIN_BLOCK_TYPES[type_slug].partition(":")
            getattr(importlib.import_module(module_name), class_name)
        try:
            return Block._registry[type_slug]
        except KeyError:
            known = sorted(set(Block._registry) | set(BUILTIN_BLOCK_TYPES))
            raise BlockError(f"Unknown block type {type_slug!r}; known types: {', '.join(known)}") from None

    # --- serialisation ----------------------------------------------------

    @classmethod
    def _dispatch_class(cls, data: Any) -> type[Block]:
        """The concrete class a document should load as (for base-class loads)."""
        if cls._block_type_slug and cls.__dict__.get("_block_type_slug"):
            return cls
        if isinstance(data, dict):
            slug = data.get("block_type_slug") or data.get("type")
            if isinstance(slug, str):
                target = Block.block_class_for(slug)
                if issubclass(cls, target):  # a user subclass of a concrete type
                    return cls
                if not issubclass(target, cls):
                    raise BlockError(f"A {slug!r} document cannot load as {cls.__name__}")
                return target
        return cls

    @classmethod
    def model_validate(cls: type[B], obj: Any, *args: Any, **kwargs: Any) -> B:
        target = cls._dispatch_class(obj)
        if target is not cls:
            return target.model_validate(obj, *args, **kwargs)  # type: ignore[return-value]
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_validate_json(cls: type[B], json_data: str | bytes, *args: Any, **kwargs: Any) -> B:  # type: ignore[override]
        import json

        target = cls._dispatch_class(json.loads(json_data))
        if target is not cls:
            return target.model_validate_json(json_data, *args, **kwargs)  # type: ignore[return-value]
        return super().model_validate_json(json_data, *args, **kwargs)

    def to_document(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """The block as a JSON-ready document: its type slug and its data."""
        return {
            "block_type_slug": self.get_block_type_slug(),
            "data": self.model_dump(mode="json", context={"reveal_secrets": reveal_secrets}),
        }

    @classmethod
    def from_document(cls: type[B], document: dict[str, Any]) -> B:
        return cls._validate_document(document)

    @classmethod
    def _validate_document(
        cls: type[B], document: dict[str, Any], context: dict[str, Any] | None = None
    ) -> B:
        if not isinstance(document, dict) or "data" not in document:
            raise BlockError("A block document needs 'block_type_slug' and 'data' keys")
        slug = document.get("block_type_slug")
        target: type[Block] = Block.block_class_for(slug) if slug else cls
        if not issubclass(target, cls):
            raise BlockError(f"A {slug!r} document cannot load as {cls.__name__}")
        return target.model_validate(document["data"], context=context)

    # --- persistence ------------------------------------------------------

    @classmethod
    def _split_reference(cls, name: str) -> tuple[str, str]:
        """``type/name`` or a bare name (for a concrete class) -> (slug, name)."""
        if "/" in name:
            slug, _, block_name = name.partition("/")
            target = Block.block_class_for(slug)  # a clear error for an unknown type
            if slug != cls.get_block_type_slug() and not issubclass(target, cls):
                raise BlockError(f"{name!r} is a {slug} block, not a {cls.get_block_type_slug()} block")
            return slug, block_name
        if not cls.__dict__.get("_block_type_slug"):
            raise BlockError(
                f"Load {name!r} through its type ('TYPE/{name}', for example "
                f"'docker-container/{name}') or through the block class itself."
            )
        return cls.get_block_type_slug(), name

    def save(self, name: str, overwrite: bool = False, *, store: BlockStore | None = None) -> str:
        """Save under ``name``; returns the ``type/name`` reference.

        A secret that holds the mask ``**********`` (as ``block load`` prints
        it) is not a secret: saved over a block, the secret saved there is kept;
        with no saved secret to keep, ``MaskedSecretError`` is raised and
        nothing is stored. So a load/save round trip loses no secret.
        """
        validate_block_name(name)
        slug = self.get_block_type_slug()
        reference = f"{slug}/{name}"
        document = self.to_document(reveal_secrets=True)
        masked = list(_masked_secrets(self))
        store = store or open_store()
        if not masked:
            store.put(slug, name, document, overwrite)
            return reference

        def keep_saved_secrets(saved: dict[str, Any] | None) -> dict[str, Any]:
            for path in masked:
                secret = _lookup(saved.get("data") if saved else None, path)
                if not isinstance(secret, str) or not secret or secret == SECRET_MASK:
                    why = "no block is saved under that name" if saved is None else "the saved block has none"
                    raise MaskedSecretError(
                        f"Cannot save {reference}: {_dotted(path)} is {SECRET_MASK!r}, the mask that "
                        f"`launchbay block load` prints in place of a secret, and there is no saved secret "
                        f"to keep ({why}); give the secret itself."
                    )
                _assign(document["data"], path, secret)
            return document

        store.put(slug, name, document, overwrite, complete=keep_saved_secrets)
        return reference

    @classmethod
    def load(cls: type[B], name: str, *, store: BlockStore | None = None) -> B:
        """Load a saved block: ``Cls.load("name")`` or ``Block.load("type/name")``."""
        slug, block_name = cls._split_reference(name)
        store = store or open_store()
        document = store.get(slug, block_name)
        if document is None:
            saved = [saved.name for saved in store.list(slug)]
            hint = f"saved {slug} blocks: {', '.join(saved)}" if saved else f"no {slug} blocks are saved yet"
            raise BlockNotFound(f"No {slug} block named {block_name!r} ({hint}).")
        return cls._validate_document(document, context={_STORED: True})

    @classmethod
    def delete(cls, name: str, *, store: BlockStore | None = None) -> None:
        slug, block_name = cls._split_reference(name)
        store = store or open_store()
        if not store.delete(slug, block_name):
            raise BlockNotFound(f"No {slug} block named {block_name!r} to delete.")

    @classmethod
    def list_saved(cls, *, store: BlockStore | None = None) -> list[SavedBlock]:
        """Saved blocks: all of them through ``Block``, else this type's."""
        store = store or open_store()
        slug = cls.get_block_type_slug() if cls.__dict__.get("_block_type_slug") else None
        return store.list(slug)


FieldPath = tuple[str | int, ...]


def _masked_secrets(value: Any, path: FieldPath = ()) -> Iterator[FieldPath]:
    """Where, in a block's document, a secret holds the mask."""
    if isinstance(value, pydantic.SecretStr):
        if value.get_secret_value() == SECRET_MASK:
            yield path
    elif isinstance(value, BaseModel):
        for field_name in type(value).model_fields:
            yield from _masked_secrets(getattr(value, field_name), (*path, field_name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _masked_secrets(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _masked_secrets(item, (*path, index))


def _lookup(data: Any, path: FieldPath) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key, data.get(str(key)))
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _assign(data: Any, path: FieldPath, value: Any) -> None:
    for key in path[:-1]:
        data = data[key if not isinstance(data, dict) or key in data else str(key)]
    last = path[-1]
    data[last if not isinstance(data, dict) or last in data else str(last)] = value


def _dotted(path: FieldPath) -> str:
    return ".".join(str(key) for key in path)


def _secret_field_names(cls: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of secret fields, nested blocks included."""
    names: list[str] = []
    for field_name, field in cls.model_fields.items():
        annotation = field.annotation
        for candidate in _flatten_annotation(annotation):
            if isinstance(candidate, type) and issubclass(candidate, pydantic.SecretStr):
                names.append(prefix + field_name)
            elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names.extend(_secret_field_names(candidate, f"{prefix}{field_name}."))
    return names


def _flatten_annotation(annotation: Any) -> list[Any]:
    from typing import get_args

    args = get_args(annotation)
    if not args:
        return [annotation]
    flat: list[Any] = []
    for arg in args:
        flat.extend(_flatten_annotation(arg))
    return flat
