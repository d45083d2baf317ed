"""The fields every kind of run is built from, as the builders read them.

Each kind's pure builder (``docker/spec.py``, ``kubernetes/manifest.py``)
takes its block through a protocol of the fields it reads; the fields all
kinds share are declared once, here (the blocks get them from
``Infrastructure``).
"""

from __future__ import annotations

from typing import Protocol


class RunFields(Protocol):
    """What every run has: a name, a command, its environment and labels, and
    its timeout."""

    @property
    def name(self) -> str | None: ...
    @property
    def command(self) -> list[str] | None: ...
    @property
    def env(self) -> dict[str, str | None]: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def timeout_seconds(self) -> float | None: ...
