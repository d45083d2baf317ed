"""The entry point's error mapping: messages on stderr, and exit codes."""

from __future__ import annotations

import pytest

from launchbay.cli import app as app_module
from launchbay.cli.main import main
from launchbay.exceptions import (
    BlockNotFound,
    InfrastructureError,
    InfrastructureNotAvailable,
    InfrastructureNotFound,
    LaunchbayError,
)


class StoreUnavailable(LaunchbayError):
    """An error that says how the CLI exits, as InfrastructureError does."""

    exit_code = 125


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreUnavailable("the store is down"), 125),
        (InfrastructureError("no engine"), 125),
        (InfrastructureError("not executable", exit_code=126), 126),
        (InfrastructureNotFound("gone"), 1),
        (InfrastructureNotAvailable("elsewhere"), 1),
        (BlockNotFound("no such block"), 2),
        (LaunchbayError("bad"), 2),
        (ValueError("bad value"), 2),
    ],
)
def test_errors_exit_with_their_code_and_a_one_line_message(
    error: Exception, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail() -> None:
        raise error

    monkeypatch.setattr(app_module, "build_app", fail)
    assert main(["preview", "--", "true"]) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"launchbay: error: {error}\n"


def test_an_exit_code_that_is_not_a_number_is_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = InfrastructureNotFound("gone")
    error.exit_code = "soon"  # type: ignore[attr-defined]

    def fail() -> None:
        raise error

    monkeypatch.setattr(app_module, "build_app", fail)
    assert main(["preview", "--", "true"]) == 1
