"""The pydantic model behind ``launchbay.settings`` (loaded on first use, so that
the light paths in ``launchbay.settings`` never import pydantic)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from launchbay._internal.settings_source import (
    ENV_PREFIX,
    FIELDS,
    normalize_home,
    normalize_logging_level,
    read_environment,
)
from launchbay._internal.urls import redact_text


class Settings(BaseModel):
    """launchbay's settings. Each field ``x`` is read from ``LAUNCHBAY_X``;
    values given to the constructor win over the environment."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    home: Path = Field(default=Path(FIELDS["home"][0]), description=FIELDS["home"][1])
    api_url: str | None = Field(default=None, description=FIELDS["api_url"][1])
    api_dns_name: str | None = Field(default=None, description=FIELDS["api_dns_name"][1])
    database_url: str | None = Field(default=None, description=FIELDS["database_url"][1])
    logging_level: str = Field(default="INFO", description=FIELDS["logging_level"][1])
    kubernetes_cluster_uid: str | None = Field(default=None, description=FIELDS["kubernetes_cluster_uid"][1])

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**read_environment(), **values})

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The values stay whole (the store reads database_url); only what is
        # shown has its passwords masked.
        for name, value in super().__repr_args__():
            yield name, redact_text(value) if isinstance(value, str) else value

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return normalize_home(value)

    @field_validator("logging_level", mode="after")
    @classmethod
    def _check_level(cls, value: str) -> str:
        return normalize_logging_level(value)

    @property
    def database_path(self) -> Path:
        """The default SQLite file."""
        return self.home / "launchbay.db"

    def to_environment_variables(self, exclude_unset: bool = False) -> dict[str, str]:
        """The settings as ``{"LAUNCHBAY_X": "value"}``.

        With ``exclude_unset`` only what the user actually set is returned: the
        base environment passed to launched infrastructure.
        """
        values: dict[str, Any] = self.model_dump(exclude_unset=exclude_unset)
        return {
            f"{ENV_PREFIX}{key.upper()}": str(value) for key, value in values.items() if value is not None
        }


Settings.__module__ = "launchbay.settings"  # where users find it
