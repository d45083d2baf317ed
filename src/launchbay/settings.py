"""Typed settings read from ``LAUNCHBAY_*`` environment variables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LAUNCHBAY_"


class Settings(BaseSettings):
    """launchbay's settings. Each field ``x`` is read from ``LAUNCHBAY_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    home: Path = Field(default=Path("~/.launchbay"), description="Where launchbay keeps its files.")
    api_url: str | None = Field(
        default=None, description="URL of an API the launched work should call back to."
    )
    api_dns_name: str | None = Field(
        default=None,
        description="Name that replaces localhost in the API URL given to Kubernetes jobs.",
    )
    database_url: str | None = Field(
        default=None,
        description="Block store: sqlite:///path or postgresql://... (default: SQLite file in HOME).",
    )
    logging_level: str = Field(default="INFO", description="Level of launchbay's own logs.")
    kubernetes_cluster_uid: str | None = Field(
        default=None, description="Cluster UID used in Kubernetes infrastructure pids."
    )

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("logging_level", mode="after")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(
                f"{value!r} is not a logging level; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
            )
        return level

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
            f"{ENV_PREFIX}{key.upper()}": str(value)
            for key, value in values.items()
            if value is not None
        }


def get_current_settings() -> Settings:
    """Settings read from the current environment (cheap; read anew each call so
    tests and long-lived programs see changes)."""
    return Settings()
