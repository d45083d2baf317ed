"""Why a container ended: OOM kill, a signal, or a plain exit code."""

from __future__ import annotations

import signal

_HINTS = {
    "SIGKILL": "Typically this is caused by manual cancellation (docker kill/stop) "
    "or the kernel reclaiming memory.",
    "SIGTERM": "Typically this is caused by manual cancellation.",
}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_reason(status_code: int, *, oom_killed: bool = False, error: str = "") -> str | None:
    """A short reason for the result: ``OOMKilled``, ``SIGKILL``, the engine's
    error, or None for a plain exit."""
    if oom_killed:
        return "OOMKilled"
    if 128 < status_code <= 128 + 64:
        return signal_name(status_code - 128)
    if error:
        return error
    return None


def describe_exit(status_code: int, reason: str | None, mem_limit: object = None) -> str:
    """The log line's explanation of a non-zero exit."""
    if reason == "OOMKilled":
        limit = f" (mem_limit={mem_limit})" if mem_limit is not None else ""
        return (
            "The container was killed by the kernel's out-of-memory killer (OOMKilled): "
            f"it used more memory than it may{limit}."
        )
    if reason and reason.startswith("SIG"):
        return (
            f"This indicates the container's main process was killed by {reason} "
            f"(exit code {status_code} = 128 + {status_code - 128}). {_HINTS.get(reason, '')}"
        ).rstrip()
    if reason:
        return reason
    return ""
