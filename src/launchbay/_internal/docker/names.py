"""Container names under Docker's rules: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""

from __future__ import annotations

import re

MAX_LENGTH = 250
_INVALID_RUN = re.compile(r"[^a-zA-Z0-9_.-]+")
_LEADING = "_-."


def slugify_container_name(name: str | None) -> str | None:
    """Docker's rules, case kept: runs of other characters become ``-``, no
    leading ``_``, ``-`` or ``.``, at most 250 characters. ``None`` when nothing
    is left, so Docker picks a name."""
    if not name:
        return None
    slug = _INVALID_RUN.sub("-", name).lstrip(_LEADING)[:MAX_LENGTH]
    return slug or None


def numbered_name(base: str, attempt: int) -> str:
    """The name to try on ``attempt`` (0: the name itself, n: ``base-n``), kept
    within the length limit."""
    if attempt == 0:
        return base
    suffix = f"-{attempt}"
    return base[: MAX_LENGTH - len(suffix)] + suffix
