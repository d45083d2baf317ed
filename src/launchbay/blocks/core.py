"""``Block``: a typed pydantic document with a type name, a schema and persistence."""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Any, ClassVar, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, PlainSerializer, SerializationInfo

from launchbay.blocks.store import BlockStore, SavedBlock, open_store
from launchbay.exceptions import BlockError, BlockNotFound

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


def _serialize_secret(value: pydantic.SecretStr, info: SerializationInfo) -> str:
    if info.context and info.context.get("reveal_secrets"):
        return value.get_secret_value()
    return str(value)  # "**********"


SecretStr = Annotated[pydantic.SecretStr, PlainSerializer(_serialize_secret, when_used="json")]
"""A secret field: masked in repr and JSON, revealed only to the block store
(``model_dump_json(context={"reveal_secrets": True})``)."""


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
    def model_validate(cls: type[B], obj: Any, *args: Any, **kwargs: Any) -> B:  # type: ignore[override]
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
        if not isinstance(document, dict) or "data" not in document:
            raise BlockError("A block document needs 'block_type_slug' and 'data' keys")
        slug = document.get("block_type_slug")
        target: type[Block] = Block.block_class_for(slug) if slug else cls
        if not issubclass(target, cls):
            raise BlockError(f"A {slug!r} document cannot load as {cls.__name__}")
        return target.model_validate(document["data"])  # type: ignore[return-value]

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
        """Save under ``name``; returns the ``type/name`` reference."""
        validate_block_name(name)
        store = store or open_store()
        store.put(self.get_block_type_slug(), name, self.to_document(reveal_secrets=True), overwrite)
        return f"{self.get_block_type_slug()}/{name}"

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
        return cls.from_document(document)

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
