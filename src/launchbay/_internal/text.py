"""Slugs and stable hashes."""

from __future__ import annotations

import hashlib
import re


def slugify(
    value: str,
    *,
    allowed: str = r"a-zA-Z0-9",
    max_length: int | None = None,
    lowercase: bool = False,
    separator: str = "-",
    strip: str = "",
) -> str:
    """Replace each run of characters outside ``allowed`` by ``separator``.

    ``allowed`` is the body of a regex character class. The result is cut to
    ``max_length`` and then stripped of the characters in ``strip`` at both ends.
    """
    if lowercase:
        value = value.lower()
    slug = re.sub(f"[^{allowed}]+", separator, value)
    if max_length is not None:
        slug = slug[:max_length]
    if strip:
        slug = slug.strip(strip)
    return slug


def stable_hash(*parts: str, length: int = 8) -> str:
    """A short hex digest of ``parts``, the same across runs and machines."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")  # so ("ab", "c") and ("a", "bc") differ
    return digest.hexdigest()[:length]
