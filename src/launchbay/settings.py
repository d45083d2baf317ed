"""Typed settings read from ``LAUNCHBAY_*`` environment variables.

``Settings`` (a frozen pydantic model) is built on first use: the hot paths
(the base environment of a run, the CLI's logging level) read the environment
with the plain functions below, which apply the very same rules without
importing pydantic. The names are matched case-insensitively, as a settings
library would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchbay._internal.settings_source import (
    ENV_PREFIX,
    FIELDS,
    normalize_home,
    normalize_logging_level,
    read_environment,
)


def _light_value(name: str, raw: str) -> str:
    """What the model would hold for a string setting, as a string; ValueError
    when the model would reject it."""
    if name == "home":
        return str(normalize_home(Path(raw)))
    if name == "logging_level":
        return normalize_logging_level(raw)
    return raw


def base_environment() -> dict[str, str]:
    """``get_current_settings().to_environment_variables(exclude_unset=True)``
    without building the model: the environment every launched run gets."""
    try:
        values = {name: _light_value(name, raw) for name, raw in read_environment().items()}
    except ValueError:
        # Let the model raise its ValidationError, with its message.
        return get_current_settings().to_environment_variables(exclude_unset=True)
    return {f"{ENV_PREFIX}{name.upper()}": values[name] for name in FIELDS if name in values}


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
