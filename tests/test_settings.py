from pathlib import Path

import pytest
from pydantic import ValidationError

from launchbay.settings import Settings, get_current_settings


def test_defaults_and_home_from_environment(launchbay_home: Path) -> None:
    settings = get_current_settings()
    assert settings.home == launchbay_home
    assert settings.api_url is None
    assert settings.logging_level == "INFO"
    assert settings.database_path == launchbay_home / "launchbay.db"


def test_home_default_expands_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_HOME")
    assert Settings().home == Path("~/.launchbay").expanduser()


def test_to_environment_variables_returns_only_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_HOME")
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "debug")
    env = get_current_settings().to_environment_variables(exclude_unset=True)
    assert env == {"LAUNCHBAY_API_URL": "http://127.0.0.1:4200/api", "LAUNCHBAY_LOGGING_LEVEL": "DEBUG"}
    everything = get_current_settings().to_environment_variables()
    assert everything["LAUNCHBAY_HOME"] == str(Path("~/.launchbay").expanduser())


def test_bad_logging_level_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "loud")
    with pytest.raises(ValidationError, match="'loud' is not a logging level"):
        get_current_settings()
