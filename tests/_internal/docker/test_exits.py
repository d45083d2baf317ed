"""Exit reasons: OOMKilled and signals (SPEC 12)."""

from __future__ import annotations

import pytest

from launchbay._internal.docker.exits import describe_exit, exit_kind, exit_reason
from launchbay._internal.exits import SIGNAL_HINTS, ExitReason


def test_plain_exits_have_no_reason() -> None:
    assert exit_reason(0) is None
    assert exit_reason(4) is None
    assert exit_reason(128) is None


def test_signals_are_named() -> None:
    assert exit_reason(137) == "SIGKILL"
    assert exit_reason(143) == "SIGTERM"
    assert exit_reason(130) == "SIGINT"


def test_oom_wins_over_the_signal() -> None:
    assert exit_reason(137, oom_killed=True) == "OOMKilled"


def test_engine_errors_are_kept() -> None:
    assert exit_reason(127, error="exec: not found") == "exec: not found"


def test_descriptions() -> None:
    assert "out-of-memory" in describe_exit(137, "OOMKilled", "8m")
    assert "mem_limit=8m" in describe_exit(137, "OOMKilled", "8m")
    assert "SIGTERM" in describe_exit(143, "SIGTERM")
    assert describe_exit(3, None) == ""


def test_signal_hints_are_the_shared_ones() -> None:
    assert SIGNAL_HINTS["SIGKILL"] in describe_exit(137, "SIGKILL")
    assert describe_exit(255 + 1, "signal 99") == "signal 99"  # no hint, no name: said as is


@pytest.mark.parametrize(
    ("status_code", "oom_killed", "kind"),
    [
        (0, False, ExitReason.EXITED),
        (4, False, ExitReason.EXITED),
        (128, False, ExitReason.EXITED),
        (137, False, ExitReason.SIGNALED),
        (143, False, ExitReason.SIGNALED),
        (137, True, ExitReason.OOM_KILLED),
        (-1, False, ExitReason.UNKNOWN),
    ],
)
def test_exit_kinds(status_code: int, oom_killed: bool, kind: ExitReason) -> None:
    assert exit_kind(status_code, oom_killed=oom_killed) is kind
