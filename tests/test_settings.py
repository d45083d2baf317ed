from pathlib import Path

import pytest
from pydantic import ValidationError

from launchbay.settings import (
    CREDENTIAL_VARIABLES,
    Settings,
    base_environment,
    get_current_settings,
    redact_environment,
    redact_text,
    redact_url,
)


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


# --- credentials -------------------------------------------------------------------

DATABASE_URL = "postgresql://user:pw-Zq81-settings@db.example:5432/launchbay"


def test_the_database_url_stays_whole_for_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", DATABASE_URL)
    assert get_current_settings().database_url == DATABASE_URL
    # SPEC 2: to_environment_variables(exclude_unset=True) is what the user set, whole.
    assert get_current_settings().to_environment_variables(exclude_unset=True)["LAUNCHBAY_DATABASE_URL"] == (
        DATABASE_URL
    )


def test_the_settings_repr_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://me:api-secret@127.0.0.1:4200/api")
    settings = get_current_settings()
    for shown in (repr(settings), str(settings), f"{settings!r}"):
        assert "pw-Zq81-settings" not in shown and "api-secret" not in shown
        assert "postgresql://user:***@db.example:5432/launchbay" in shown
        assert "http://me:***@127.0.0.1:4200/api" in shown


def test_base_environment_without_credentials_leaves_the_database_url_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://127.0.0.1:4200/api")
    everything = base_environment()
    assert everything == get_current_settings().to_environment_variables(exclude_unset=True)
    assert everything["LAUNCHBAY_DATABASE_URL"] == DATABASE_URL
    for_containers = base_environment(include_credentials=False)
    assert "LAUNCHBAY_DATABASE_URL" not in for_containers
    assert for_containers == {k: v for k, v in everything.items() if k != "LAUNCHBAY_DATABASE_URL"}
    assert {"LAUNCHBAY_DATABASE_URL"} == CREDENTIAL_VARIABLES
    # Also without a password: the host's store is not the launched work's business.
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", "sqlite:////tmp/x.db")
    assert "LAUNCHBAY_DATABASE_URL" not in base_environment(include_credentials=False)


def test_base_environment_without_credentials_on_the_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # A value the light path cannot take goes through the model, which raises.
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("LAUNCHBAY_LOGGING_LEVEL", "loud")
    with pytest.raises(ValidationError):
        base_environment(include_credentials=False)


def test_redact_environment_masks_url_passwords_and_keeps_the_rest() -> None:
    environment: dict[str, str | None] = {
        "LAUNCHBAY_DATABASE_URL": DATABASE_URL,
        "LAUNCHBAY_API_URL": "http://127.0.0.1:4200/api",
        "OTHER": "https://u:p%40ss@host/x?token=t0k&keep=1",
        "REMOVED": None,
        "PLAIN": "a:b@c",
    }
    shown = redact_environment(environment)
    assert list(shown) == list(environment)
    assert shown == {
        "LAUNCHBAY_DATABASE_URL": "postgresql://user:***@db.example:5432/launchbay",
        "LAUNCHBAY_API_URL": "http://127.0.0.1:4200/api",
        "OTHER": "https://u:***@host/x?token=***&keep=1",
        "REMOVED": None,
        "PLAIN": "a:b@c",
    }
    assert environment["LAUNCHBAY_DATABASE_URL"] == DATABASE_URL  # a copy


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:PW@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h/db?sslmode=require&password=PW", "postgresql://h/db?sslmode=require&password=***"),
        ("sqlite:////tmp/launchbay.db", "sqlite:////tmp/launchbay.db"),
        ("http://localhost:4200/api", "http://localhost:4200/api"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_text(f"error at {url} refused") == f"error at {shown} refused"


def test_settings_inside_other_values_never_show_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # The model's repr is what a traceback or a debugger shows of the settings.
    monkeypatch.setenv("LAUNCHBAY_DATABASE_URL", DATABASE_URL)
    assert "pw-Zq81-settings" not in repr(Settings())
    assert "pw-Zq81-settings" not in repr([get_current_settings()])
