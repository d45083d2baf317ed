"""Shared fixtures. Service tests need real services (see scripts/test); when one
is missing they skip locally but FAIL under CI=true, where nothing may be skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip the calling test when ``condition`` is false, or fail it under CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required service is missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def launchbay_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own LAUNCHBAY_HOME and no inherited LAUNCHBAY_* settings."""
    home = tmp_path_factory.mktemp("launchbay-home") / "home"
    for key in list(os.environ):
        if key.startswith("LAUNCHBAY_") and not key.startswith("LAUNCHBAY_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LAUNCHBAY_HOME", str(home))
    yield home


@pytest.fixture(autouse=True)
def launchbay_logging() -> Iterator[None]:
    """A CLI called in-process (``main([...])``) configures the ``launchbay``
    logger for a terminal (its own handler, no propagation): put it back, so
    that later tests' ``caplog`` still sees launchbay's records."""
    import logging

    logger = logging.getLogger("launchbay")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    yield
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("LAUNCHBAY_TEST_POSTGRES_URL", "")
    require(bool(url), "LAUNCHBAY_TEST_POSTGRES_URL is not set (scripts/services/postgres.sh starts one)")
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test is a failure: the suite must run everything."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        if reporter:
            reporter.write_line(
                f"CI=true: {skipped} test(s) were skipped; failing the run.", red=True, bold=True
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
