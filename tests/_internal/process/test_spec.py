"""The child's environment from a process spec: what launchbay sets over ours,
and nothing copied when that changes nothing."""

from __future__ import annotations

import os

import pytest

from launchbay._internal.process.spec import ProcessSpec, build_spec


def _spec(base: dict[str, str], env: dict[str, str | None]) -> ProcessSpec:
    return build_spec(
        ["true"], base_environment=base, env=env, working_dir=None, stream_output=False, name=None
    )


def test_settings_the_child_would_inherit_anyway_need_no_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_HOME", "/srv/launchbay")
    monkeypatch.delenv("NOT_THERE", raising=False)
    spec = _spec({"LAUNCHBAY_HOME": "/srv/launchbay"}, {"NOT_THERE": None})
    assert spec.environment() is None  # the child inherits ours as it is


def test_a_changed_setting_is_merged_over_ours_byte_for_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_HOME", "relative/home")
    monkeypatch.setenv("REMOVED", "x")
    os.environb[b"RAW_BYTES"] = b"caf\xe9"  # not UTF-8: passed on as it is
    try:
        spec = _spec({"LAUNCHBAY_HOME": "/abs/relative/home"}, {"REMOVED": None, "OWN": "mine"})
        merged = spec.environment({"MARK": "1"})
    finally:
        del os.environb[b"RAW_BYTES"]
    assert merged is not None
    assert merged[b"LAUNCHBAY_HOME"] == b"/abs/relative/home"
    assert merged[b"OWN"] == b"mine" and merged[b"MARK"] == b"1"
    assert b"REMOVED" not in merged
    assert merged[b"RAW_BYTES"] == b"caf\xe9"
    assert merged[b"PATH"] == os.environb[b"PATH"]
    assert os.environ["REMOVED"] == "x"  # ours is untouched


def test_a_marker_alone_changes_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_SESSION_MARK", raising=False)
    merged = _spec({}, {}).environment({"LAUNCHBAY_SESSION_MARK": "k.1"})
    assert merged is not None and merged[b"LAUNCHBAY_SESSION_MARK"] == b"k.1"
    assert _spec({}, {}).environment() is None
