"""What a process run will be: built from a ``Process`` block, pure and frozen
(nothing is started or read from the machine here but ``os.environ``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from launchbay._internal.environ import environ_bytes
from launchbay._internal.process.workdir import resolve


class ProcessSpec(NamedTuple):
    command: tuple[str, ...]
    # What launchbay sets on top of the inherited environment (None removes).
    overrides: tuple[tuple[str, str | None], ...]
    working_dir: str | None  # absolute; None: a fresh temporary directory
    stream_output: bool
    name: str | None
    timeout_seconds: float | None = None

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[bytes, bytes] | None:
        """The child's whole environment: ours, overridden by ``overrides`` then
        ``extra``; None when that changes nothing (the child inherits ours as
        is, which spares copying and encoding it): the base settings usually
        come from our own environment, with the same values. Built from our
        environment's bytes, so the inherited variables are never decoded and
        encoded again."""
        if not self.overrides and not extra:
            return None
        changes = [
            (os.fsencode(key), None if value is None else os.fsencode(value))
            for key, value in (*self.overrides, *(extra or {}).items())
        ]
        inherited: Mapping[bytes, bytes] | None = environ_bytes()
        if inherited is None:
            inherited = os.environb
        if all(inherited.get(key) == value for key, value in changes):
            return None
        merged = dict(inherited)
        for key, value in changes:
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    @property
    def display_name(self) -> str:
        return display_name(self.name)

    def preview(self) -> str:
        """One ``KEY=value \\`` line per variable launchbay sets, then the command."""
        import shlex

        lines = [f"{key}={shlex.quote(value)} \\" for key, value in self.overrides if value is not None]
        lines.append(shlex.join(self.command))
        return "\n".join(lines)


def display_name(name: str | None) -> str:
    return f" {name!r}" if name else ""


def build_spec(
    command: list[str] | tuple[str, ...] | None,
    *,
    base_environment: Mapping[str, str],
    env: Mapping[str, str | None],
    working_dir: str | os.PathLike[str] | None,
    stream_output: bool,
    name: str | None,
    timeout_seconds: float | None = None,
) -> ProcessSpec:
    overrides = {**base_environment, **env}
    return ProcessSpec(
        command=tuple(command or ()),
        overrides=tuple(overrides.items()),
        working_dir=resolve(working_dir),
        stream_output=stream_output,
        name=name,
        timeout_seconds=timeout_seconds,
    )
