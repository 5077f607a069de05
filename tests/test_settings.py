"""Settings from the environment, and their checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.settings import Settings


def test_defaults_fit_a_long_call():
    settings = Settings()
    assert settings.path_prefix == "/llm-websocket"
    assert settings.auto_reconnect and settings.call_details
    # A two-hour call with word timings is a few MB per frame; leave a wide margin.
    assert settings.max_frame_bytes >= 32 * 1024 * 1024


def test_environment_variables_and_prefix_normalisation(monkeypatch):
    monkeypatch.setenv("DIALPLAN_PATH_PREFIX", "uponai/llm/")
    monkeypatch.setenv("DIALPLAN_SECRET", "hunter2")
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
