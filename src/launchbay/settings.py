"""Typed settings read from ``LAUNCHBAY_*`` environment variables.

``Settings`` (a frozen pydantic model) is built on first use: the hot paths
(the base environment of a run, the CLI's logging level) read the environment
with the plain functions below, which apply the very same rules without
importing pydantic. The names are matched case-insensitively, as a settings
library would.

Credentials: ``LAUNCHBAY_DATABASE_URL`` (``CREDENTIAL_VARIABLES``) is a
credential, with or without a password in it. Containers and Jobs get the base
environment without it (``base_environment(include_credentials=False)``); a
local process inherits launchbay's environment anyway. Whatever shows settings
or environments (previews, logs, CLI output) masks passwords with
``redact_environment`` / ``redact_url`` / ``redact_text``; the model's ``repr``
masks them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from launchbay._internal.settings_source import (
    CREDENTIAL_FIELDS,
    ENV_PREFIX,
    FIELDS,
    normalize_home_text,
    normalize_logging_level,
    read_environment,
)
from launchbay._internal.urls import REDACTED, redact_text, redact_url

__all__ = [
    "CREDENTIAL_VARIABLES",
    "REDACTED",
    "Settings",
    "base_environment",
    "get_current_settings",
    "logging_level",
    "redact_environment",
    "redact_text",
    "redact_url",
]

CREDENTIAL_VARIABLES: frozenset[str] = frozenset(f"{ENV_PREFIX}{name.upper()}" for name in CREDENTIAL_FIELDS)
"""The settings' environment variables that carry credentials."""

V = TypeVar("V", bound="str | None")


def _light_value(name: str, raw: str) -> str:
    """What the model would hold for a string setting, as a string; ValueError
    when the model would reject it."""
    if name == "home":
        return normalize_home_text(raw)
    if name == "logging_level":
        return normalize_logging_level(raw)
    return raw


def base_environment(*, include_credentials: bool = True) -> dict[str, str]:
    """``get_current_settings().to_environment_variables(exclude_unset=True)``
    without building the model: the environment every launched run gets.

    ``include_credentials=False`` leaves out the settings that carry credentials
    (``CREDENTIAL_VARIABLES``): the base environment of containers and Jobs.
    """
    try:
        values = {name: _light_value(name, raw) for name, raw in read_environment().items()}
    except ValueError:
        # Let the model raise its ValidationError, with its message.
        environment = get_current_settings().to_environment_variables(exclude_unset=True)
    else:
        environment = {f"{ENV_PREFIX}{name.upper()}": values[name] for name in FIELDS if name in values}
    if not include_credentials:
        for key in CREDENTIAL_VARIABLES:
            environment.pop(key, None)
    return environment


def redact_environment(environment: Mapping[str, V]) -> dict[str, V]:
    """A copy of ``environment`` for display: the password of every URL in a
    value masked (``postgresql://u:PW@h/db`` -> ``postgresql://u:***@h/db``).
    Keys, order, ``None`` values and everything else are kept as they are."""
    return {
        key: cast(V, redact_text(value)) if isinstance(value, str) else value
        for key, value in environment.items()
    }


def logging_level() -> str:
    """``get_current_settings().logging_level`` without building the model."""
    raw = read_environment().get("logging_level")
    if raw is None:
        return FIELDS["logging_level"][0]
    try:
        return normalize_logging_level(raw)
    except ValueError:
        return get_current_settings().logging_level  # raises the ValidationError


def get_current_settings() -> Settings:
    """Settings read from the current environment (cheap; read anew each call so
    tests and long-lived programs see changes)."""
    from launchbay._internal.settings_model import Settings

    return Settings()


def __getattr__(name: str) -> Any:
    # The model loads pydantic, so it is imported on first use only.
    if name == "Settings":
        from launchbay._internal.settings_model import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from launchbay._internal.settings_model import Settings
