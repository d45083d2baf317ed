"""Where settings come from: their names, defaults and the rules that read them
from the environment. Shared by ``launchbay.settings`` (the light paths) and the
pydantic model, so neither imports the other."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

from launchbay._internal.environ import environ_bytes

ENV_PREFIX = "LAUNCHBAY_"

# field -> (default, description); the order is the order of the model's fields.
FIELDS: dict[str, tuple[Any, str]] = {
    "home": ("~/.launchbay", "Where launchbay keeps its files."),  # text: pathlib costs a CLI start
    "api_url": (None, "URL of an API the launched work should call back to."),
    "api_dns_name": (None, "Name that replaces localhost in the API URL given to Kubernetes jobs."),
    "database_url": (None, "Block store: sqlite:///path or postgresql://... (default: SQLite file in HOME)."),
    "logging_level": ("INFO", "Level of launchbay's own logs."),
    "kubernetes_cluster_uid": (None, "Cluster UID used in Kubernetes infrastructure pids."),
}

# Settings that carry credentials: never shown unmasked, and not given to
# containers or Jobs unless asked for. LAUNCHBAY_DATABASE_URL always counts, with
# or without a password in it: a server can also take one as a query parameter,
# and the host's store is not the launched work's business.
CREDENTIAL_FIELDS: frozenset[str] = frozenset({"database_url"})


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings set in the environment, by field name, as given."""
    found: dict[str, str] = {}
    size = len(ENV_PREFIX)
    data = environ_bytes() if environ is None else None
    if data is not None:
        # Look at the keys as they are kept, and decode only the matches.
        prefix = ENV_PREFIX.encode()
        for raw in data:
            if len(raw) > size and raw[:size].upper() == prefix:
                key = os.fsdecode(raw)
                name = key[size:].lower()
                if name in FIELDS:
                    found[name] = os.environ[key]
        return found
    environ = os.environ if environ is None else environ
    for key in environ:
        if len(key) > size and key[:size].upper() == ENV_PREFIX:
            name = key[size:].lower()
            if name in FIELDS:
                found[name] = environ[key]
    return found


def normalize_home(value: Path) -> Path:
    """``~`` expanded and a relative path made absolute against the caller's
    directory now: a run started elsewhere (its own temporary directory) must
    find the same HOME."""
    from pathlib import Path

    return Path(normalize_home_text(os.fspath(value)))


def normalize_home_text(value: str) -> str:
    """``normalize_home`` on a string, without pathlib (asked for each run)."""
    return os.path.abspath(os.path.expanduser(value))


def normalize_logging_level(value: str) -> str:
    level = value.upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"{value!r} is not a logging level; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level
