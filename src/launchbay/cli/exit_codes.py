"""A run's status code as the CLI's exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchbay._internal.exits import shell_exit_code

if TYPE_CHECKING:
    from launchbay.infrastructure.base import InfrastructureResult

exit_code = shell_exit_code


def exit_code_for(result: InfrastructureResult) -> int:
    """The exit code of a finished run: its status code; 128+N after signal N;
    124 when its timeout stopped it; 1 when unknown."""
    return shell_exit_code(result.status_code, result.reason, result.exit_reason)
