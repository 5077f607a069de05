"""Settings from the environment, and their checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from engine.settings import (
    MIN_SECRET,
    OTHER_VARIABLES,
    Settings,
    problems,
    unknown_variables,
    variable,
)
from tests.helpers import REPO


def test_defaults_fit_a_long_call():
    settings = Settings()
    assert settings.path_prefix == "/llm-websocket"
    assert settings.auto_reconnect and settings.call_details
    # A two-hour call with word timings is a few MB per frame; leave a wide margin.
    assert settings.max_frame_bytes >= 32 * 1024 * 1024


def test_environment_variables_and_prefix_normalisation(monkeypatch):
    monkeypatch.setenv("DIALPLAN_PATH_PREFIX", "uponai/llm/")
    monkeypatch.setenv("DIALPLAN_SECRET", "hunter2-hunter2-hunter2")
    monkeypatch.setenv("DIALPLAN_FIRST_TOKEN_TIMEOUT", "1.5")
    monkeypatch.setenv("DIALPLAN_STORE", "redis://:hunter3@cache:6379/0")
    settings = Settings()
    assert settings.path_prefix == "/uponai/llm"
    assert settings.first_token_timeout == 1.5
    assert settings.store == "redis://:hunter3@cache:6379/0"
    # Secrets never show in logs or tracebacks: the path secret, Redis's password.
    assert "hunter2" not in repr(settings) and "hunter3" not in repr(settings)


def test_invalid_values_are_refused(monkeypatch):
    monkeypatch.setenv("DIALPLAN_PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_a_webhook_needs_its_signing_secret(monkeypatch):
    monkeypatch.setenv("DIALPLAN_WEBHOOK_URL", "https://example.org/hooks")
    with pytest.raises(ValidationError, match="DIALPLAN_WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("DIALPLAN_WEBHOOK_SECRET", "k3y")
    settings = Settings()
    assert settings.webhook_secret is not None and "k3y" not in repr(settings)


def test_the_console_is_off_without_a_token_and_refuses_a_guessable_one(monkeypatch):
    assert Settings().console_token is None
    monkeypatch.setenv("DIALPLAN_CONSOLE_TOKEN", "")
    assert Settings().console_token is None  # an empty token turns nothing on
    monkeypatch.setenv("DIALPLAN_CONSOLE_TOKEN", "letmein")
    with pytest.raises(ValidationError, match="DIALPLAN_CONSOLE_TOKEN is too short"):
        Settings()
    monkeypatch.setenv("DIALPLAN_CONSOLE_TOKEN", "a-long-random-token")
    settings = Settings()
    assert settings.console_token is not None
    assert "a-long-random-token" not in repr(settings)


def test_plugins_are_a_comma_separated_list_in_the_environment(monkeypatch):
    monkeypatch.setenv("DIALPLAN_PLUGINS", "myproject.crm, myproject.routing")
    assert Settings().plugins == ("myproject.crm", "myproject.routing")


def test_unknown_variables_are_named_with_the_nearest_setting(tmp_path):
    environ = {
        "DIALPLAN_IDLE_TIMOUT": "3",
        "dialplan_port": "8081",  # the settings take any case
        "DIALPLAN_WHATEVER": "1",
        "DIALPLAN_CHROMIUM": "/usr/bin/chromium",
        "PATH": "/usr/bin",
    }
    (tmp_path / ".env").write_text("DIALPLAN_MODLE=gpt-4o\nexport DIALPLAN_MODEL=gpt-4o\n")
    assert unknown_variables(environ, tmp_path / ".env") == [
        "DIALPLAN_IDLE_TIMOUT is not a dialplan setting (did you mean DIALPLAN_IDLE_TIMEOUT?)",
        "DIALPLAN_WHATEVER is not a dialplan setting",
        f"{tmp_path / '.env'}: DIALPLAN_MODLE is not a dialplan setting "
        "(did you mean DIALPLAN_MODEL?)",
    ]
    assert unknown_variables({}, tmp_path / "missing.env") == []


def test_problems_are_one_line_each_in_the_variables_names(monkeypatch):
    monkeypatch.setenv("DIALPLAN_PORT", "99999")
    monkeypatch.setenv("DIALPLAN_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert problems(refused.value) == [
        "DIALPLAN_PORT: input should be less than or equal to 65535",
        "DIALPLAN_LOG_LEVEL: input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
    ]
    unreadable = SettingsError('error parsing value for field "plugins" from source "Env"')
    assert problems(unreadable) == ["DIALPLAN_PLUGINS: cannot be read"]


def test_a_store_that_is_not_redis_and_an_empty_secret_are_refused(monkeypatch):
    monkeypatch.setenv("DIALPLAN_STORE", "memcached://u:hunter2@cache:11211")
    monkeypatch.setenv("DIALPLAN_SECRET", "")
    with pytest.raises(ValidationError) as refused:
        Settings()
    lines = problems(refused.value)
    assert [line.split(" ", 1)[0] for line in lines] == ["DIALPLAN_SECRET", "DIALPLAN_STORE:"]
    assert "hunter2" not in str(lines)
    for store in ("memory", "", "redis://cache:6379/0", "rediss://cache/0", "unix:///run/r.sock"):
        monkeypatch.setenv("DIALPLAN_STORE", store)
        monkeypatch.setenv("DIALPLAN_SECRET", "s3cret-s3cret-s3cret")
        assert Settings().store == store


def test_every_dialplan_variable_the_project_mentions_is_a_setting_or_known():
    """A variable used in code or documentation that is no setting would be refused."""
    settings = {variable(field) for field in Settings.model_fields}
    texts = [*REPO.glob("engine/**/*.py"), REPO / "README.md", *REPO.glob("docs/**/*.md")]
    texts += [REPO / "Dockerfile"]
    texts += [*REPO.glob("deploy/*"), *REPO.glob("bench/*.py"), REPO / "bench" / "README.md"]
    mentioned = set()
    for path in texts:
        text = Path(path).read_text()
        mentioned |= set(re.findall(r"\bDIALPLAN_[A-Z][A-Z_]*[A-Z]\b", text))
        mentioned -= set(re.findall(r"(DIALPLAN_\w+) is not a dialplan setting", text))  # examples
    assert mentioned - settings - OTHER_VARIABLES == set()


@pytest.mark.parametrize("secret", ["x", "fifteen-letters"])
def test_a_secret_short_enough_to_guess_is_refused(monkeypatch, secret):
    monkeypatch.setenv("DIALPLAN_SECRET", secret)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert problems(refused.value) == [
        f"DIALPLAN_SECRET is too short: use at least {MIN_SECRET} characters (a long random "
        "string; the path is all that keeps other people's calls out)"
    ]
    assert secret not in str(problems(refused.value))
    monkeypatch.setenv("DIALPLAN_SECRET", "sixteen-letters!")
    assert Settings().secret is not None
