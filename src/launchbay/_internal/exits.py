"""How runs end, written once for every kind: exit reasons, signal names, the
shell's 128+N convention and the grace a cancelled run gets."""

from __future__ import annotations

import signal
from enum import Enum

# How long a cancelled run (Ctrl+C, a task group's cancel, a signal to the CLI)
# lets its tree exit on its first signal before the tree is killed.
CANCEL_GRACE_SECONDS = 10.0


class ExitReason(str, Enum):
    """Why a run ended, for scripts (the result's ``reason`` says it for people)."""

    EXITED = "exited"  # the command exited by itself, with any status code
    SIGNALED = "signaled"  # killed by a signal launchbay did not send
    OOM_KILLED = "oom_killed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"  # stopped by launchbay: kill, cancel, a signal to the CLI
    EVICTED = "evicted"
    IMAGE_PULL_FAILED = "image_pull_failed"
    UNSCHEDULABLE = "unschedulable"
    CONFIG_ERROR = "config_error"
    LOST = "lost"  # its supervisor died without recording the end
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


# Why a signal usually arrives, for the log line of a run it ended.
SIGNAL_HINTS = {
    "SIGKILL": "Typically, this is either caused by manual cancellation or high memory "
    "usage causing the operating system to terminate the process.",
    "SIGTERM": "Typically, this is caused by manual cancellation.",
}


def signal_name(number: int) -> str:
    """``SIGTERM`` for 15; ``signal 99`` for a number with no name here."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def signal_number(name: str) -> int | None:
    """15 for ``SIGTERM``; None for anything that is not a signal's name."""
    if not name.startswith("SIG"):
        return None
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


TIMED_OUT_EXIT_CODE = 124  # as timeout(1) exits


def shell_exit_code(status_code: int, reason: str | None = None, exit_reason: str | None = None) -> int:
    """A run's status code as a shell exit code: a status above 255 is 1, a run
    that died of signal N (``reason`` names it) is 128+N as shells say, a run
    stopped by its timeout 124 as ``timeout`` says; an unknown status (-1) is 1."""
    if exit_reason == ExitReason.TIMED_OUT:
        return TIMED_OUT_EXIT_CODE
    if status_code >= 0:
        return status_code if status_code <= 255 else 1
    number = signal_number(reason or "")
    return 128 + number if number is not None else 1
