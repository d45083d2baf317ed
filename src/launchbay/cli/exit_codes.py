"""A run's status code as the CLI's exit code (stdlib only: the fast path uses it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launchbay.infrastructure.base import InfrastructureResult


def exit_code(status_code: int, reason: str | None) -> int:
    """A run's status code as a shell exit code: signals become 128+N.

    Not ``_internal.exits.shell_exit_code``: that reads a negative status without
    a signal's name as a returncode (-1 would be SIGHUP), where here it is
    "unknown" and exits 1; and importing its enum costs the fast path time."""
    if status_code >= 0:
        return status_code if status_code <= 255 else 1
    if reason and reason.startswith("SIG"):
        import signal

        try:
            return 128 + signal.Signals[reason].value
        except KeyError:
            pass
    return 1


def exit_code_for(result: InfrastructureResult) -> int:
    """The exit code of a finished run."""
    return exit_code(result.status_code, result.reason)
