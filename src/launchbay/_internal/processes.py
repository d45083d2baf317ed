"""Transitional: the CLI's fast path still imports these names; the process
kind lives in ``launchbay._internal.process`` (spec, runner, containment)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from launchbay._internal.process.runner import direct_output_fds, exit_reason_text
from launchbay._internal.process.runner import run_blocking as _run_blocking
from launchbay._internal.process.spec import build_spec

__all__ = ["direct_output_fds", "environment", "exit_reason", "run_blocking"]

exit_reason = exit_reason_text


def environment(*layers: Mapping[str, str | None]) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def run_blocking(
    command: list[str],
    *,
    env: Mapping[str, str | None] | None,
    working_dir: str | Path | None,
    output_fds: tuple[int, int] | None,
    name: str | None,
    logger: logging.Logger,
    on_started: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    spec = build_spec(
        command, base_environment={}, env=env or {}, working_dir=working_dir, stream_output=True, name=name
    )
    outcome = _run_blocking(spec, logger=logger, output_fds=output_fds, on_started=on_started)
    return outcome.identifier, outcome.status_code
