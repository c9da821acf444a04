"""Settings from the environment, validated in the factory."""

from __future__ import annotations

import pytest

from handoff.app import create_app
from handoff.settings import REPO_ROOT, EventSource, Settings, SettingsError

pytestmark = pytest.mark.one_store  # settings from the environment: not the database

SECRETS = {"HANDOFF_API_TOKEN": "s3cret-intake", "DELIVERY_TOKEN": "s3cret-delivery"}


def test_defaults():
    settings = Settings.from_env(SECRETS).validated()
    assert settings.database_url == f"sqlite+aiosqlite:///{REPO_ROOT / 'var/handoff.sqlite3'}"
    assert (settings.session_ttl_minutes, settings.sla_warning_minutes) == (720, 2)
    assert settings.rasa_url == settings.delivery_url == "http://127.0.0.1:5005"
    assert settings.event_source is None


@pytest.mark.parametrize("token", ["", "change-me", "CHANGEME", "  "])
def test_placeholder_tokens_are_refused_outside_dev(token):
    with pytest.raises(SettingsError, match="HANDOFF_API_TOKEN"):
        create_app(Settings.from_env({**SECRETS, "HANDOFF_API_TOKEN": token}))


def test_dev_fills_in_dev_tokens():
    settings = Settings.from_env({"HANDOFF_ENV": "dev"}).validated()
    assert settings.api_token == "dev-handoff-token"
    assert settings.delivery_token == "dev-delivery-token"


@pytest.mark.parametrize(
    ("value", "source"),
    [
        (
            "sql:sqlite:///var/rasa-events.sqlite3",
            EventSource("sql", f"sqlite:///{REPO_ROOT / 'var/rasa-events.sqlite3'}"),
        ),
        ("sql:postgresql://u@h/events", EventSource("sql", "postgresql://u@h/events")),
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            EventSource("amqp", "amqp://guest:guest@127.0.0.1:5672/"),
        ),
    ],
)
def test_event_source(value, source):
    assert Settings.from_env({**SECRETS, "EVENT_SOURCE": value}).event_source == source


@pytest.mark.parametrize(
    "env",
    [
        {"EVENT_SOURCE": "kafka://x"},
        {"SESSION_TTL_MINUTES": "soon"},
        {"SLA_WARNING_MINUTES": "0"},
        {"SLA_CHECK_SECONDS": "0"},
        {"DATABASE_URL": "mysql://x/y"},
    ],
)
def test_bad_values_name_their_variable(env):
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env({**SECRETS, **env}).validated()


def test_the_sla_and_snooze_timer_round_comes_from_the_environment():
    assert Settings.from_env(SECRETS).validated().sla_check_seconds == 15
    env = {**SECRETS, "SLA_CHECK_SECONDS": "2"}
    assert Settings.from_env(env).validated().sla_check_seconds == 2


def test_postgres_url_gets_the_async_driver():
    env = {**SECRETS, "DATABASE_URL": "postgresql://postgres@127.0.0.1/handoff"}
    assert Settings.from_env(env).validated().database_url.startswith("postgresql+asyncpg://")


def test_login_limits_come_from_the_environment():
    env = {**SECRETS, "LOGIN_FAILURES_PER_ACCOUNT": "3", "LOGIN_WINDOW_SECONDS": "60"}
    login = Settings.from_env(env).validated().login
    assert (login.failures_per_account, login.window_seconds) == (3, 60)
    assert (login.failures_per_address, login.hash_workers) == (20, 2)


@pytest.mark.parametrize("name", ["LOGIN_FAILURES_PER_ADDRESS", "PASSWORD_HASH_WORKERS"])
def test_login_limits_must_be_positive(name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**SECRETS, name: "0"}).validated()
