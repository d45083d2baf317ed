"""Our environment as CPython keeps it, for the paths that read it per run."""

from __future__ import annotations

import os


def environ_bytes() -> dict[bytes, bytes] | None:
    """``os.environ``'s own dict of undecoded bytes (read it, never change
    it): looking at its keys, or copying it, costs no decoding; decoding every
    key costs a run tens of microseconds. None where the environment is kept
    otherwise (str keys, on Windows; another Python)."""
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and isinstance(next(iter(data), b""), bytes):
        return data
    return None
