"""Why a container ended, as the result and the log say it: an OOM kill, a
signal (128+N, named by the shared rule), the engine's error, or a plain exit."""

from __future__ import annotations

from launchbay._internal.exits import SIGNAL_HINTS, ExitReason, signal_name

OOM_KILLED = "OOMKilled"  # Docker's own word for it


def exit_reason(status_code: int, *, oom_killed: bool = False, error: str = "") -> str | None:
    """A short reason for the result: ``OOMKilled``, ``SIGKILL``, the engine's
    error, or None for a plain exit."""
    if oom_killed:
        return OOM_KILLED
    if 128 < status_code <= 128 + 64:
        return signal_name(status_code - 128)
    if error:
        return error
    return None


def exit_kind(status_code: int, *, oom_killed: bool = False) -> ExitReason:
    """The result's ``exit_reason``. A container killed by ``docker stop``
    from elsewhere is a signal launchbay did not send here: SIGNALED."""
    if oom_killed:
        return ExitReason.OOM_KILLED
    if status_code < 0:
        return ExitReason.UNKNOWN
    if 128 < status_code <= 128 + 64:
        return ExitReason.SIGNALED
    return ExitReason.EXITED


def describe_exit(status_code: int, reason: str | None, mem_limit: object = None) -> str:
    """The log line's explanation of a non-zero exit."""
    if reason == OOM_KILLED:
        limit = f" (mem_limit={mem_limit})" if mem_limit is not None else ""
        return (
            "The container was killed by the kernel's out-of-memory killer (OOMKilled): "
            f"it used more memory than it may{limit}."
        )
    if reason and reason.startswith("SIG"):
        return (
            f"This indicates the container's main process was killed by {reason} "
            f"(exit code {status_code} = 128 + {status_code - 128}). {SIGNAL_HINTS.get(reason, '')}"
        ).rstrip()
    if reason:
        return reason
    return ""
