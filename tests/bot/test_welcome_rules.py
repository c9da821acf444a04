"""Welcome rules: validation errors a designer can act on, and which welcome is chosen."""

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.welcome_rules import (
    DEFAULT_RULES_PATH,
    WelcomeConfig,
    WelcomeRulesError,
    load_welcome_config,
    load_welcome_config_cached,
)

UTC = timezone.utc
# January: London is on UTC, New York on UTC-5.
WED_NOON = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
WED_NIGHT = datetime(2026, 1, 7, 21, 0, tzinfo=UTC)
SAT_EVENING = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)

EN_DAYS = {
    "today": "today",
    "tomorrow": "tomorrow",
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
DE_DAYS = {
    "today": "heute",
    "tomorrow": "morgen",
    "mon": "Montag",
    "tue": "Dienstag",
    "wed": "Mittwoch",
    "thu": "Donnerstag",
    "fri": "Freitag",
    "sat": "Samstag",
    "sun": "Sonntag",
}


def weekdays(hours: str) -> dict[str, list[str]]:
    return {day: [hours] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def raw() -> dict[str, Any]:
    """A valid rules file as plain data; each test changes its own copy."""
    return {
        "version": 1,
        "default_language": "en",
        "languages": {
            "en": {"next_open": "{day} at {time} ({city} time)", "days": dict(EN_DAYS)},
            "de": {"next_open": "{day} um {time} Uhr (Ortszeit {city})", "days": dict(DE_DAYS)},
        },
        "schedules": {
            "support": {
                "timezone": "Europe/London",
                "weekly": {**weekdays("08:00-20:00"), "sat": ["09:00-17:00"]},
                "holidays": [
                    {"date": "2026-12-24", "name": "Christmas Eve", "hours": ["08:00-14:00"]},
                    {"date": "2026-12-25", "name": "Christmas"},
                ],
            },
            "us_technical": {
                "timezone": "America/New_York",
                "weekly": weekdays("09:00-17:00"),
            },
            "retired": {"timezone": "Europe/London", "weekly": {}},
        },
        "default_schedule": "support",
        "queues": {"billing": "support", "technical": "us_technical", "legacy": "retired"},
        "rules": [
            {
                "id": "holiday_closed",
                "when": {"hours": "closed", "holiday": True},
                "text": {"en": "Closed for {holiday}, back {next_open}."},
            },
            {
                "id": "after_hours",
                "when": {"hours": "closed"},
                "once_every_days": 1,
                "text": {"en": "Closed, back {next_open}.", "de": "Zu, zurück {next_open}."},
                "link": {
                    "url": "https://community.lumenhome.example",
                    "label": {"en": "Community answers", "de": "Community"},
                },
            },
            {
                "id": "closed_long",
                "when": {"hours": "closed"},
                "text": "We are closed for a while.",
            },
            {
                "id": "billing_open",
                "when": {"queues": ["billing"], "hours": "open"},
                "once_every_days": 7,
                "text": {"en": "The billing team is here."},
            },
            {
                "id": "whatsapp_open",
                "when": {"channels": ["whatsapp"], "hours": "open"},
                "once_every_days": 7,
                "text": {"en": "Hi on WhatsApp!"},
            },
            {
                "id": "german_open",
                "when": {"languages": ["de"], "hours": "open"},
                "once_every_days": 7,
                "text": {"de": "Hallo!", "default": "Hello!"},
            },
            {
                "id": "welcome",
                "when": {"hours": "open"},
                "once_every_days": 7,
                "text": {"en": "Welcome!", "default": "Welcome (default)!"},
            },
        ],
        "greet_again": {"en": "Hi again!", "de": "Hallo nochmal!"},
    }


@pytest.fixture
def write(tmp_path: Path) -> Callable[[Any], Path]:
    def write(data: Any) -> Path:
        path = tmp_path / "welcome.yml"
        path.write_text(
            data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), "utf-8"
        )
        return path

    return write


@pytest.fixture
def config(raw, write) -> WelcomeConfig:
    return load_welcome_config(write(raw))


def rule(raw: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in raw["rules"] if r["id"] == rule_id)


def schedule(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["schedules"]["support"]


# --- validation -------------------------------------------------------------------------------


def set_in(mapping: dict, key: str, value: Any) -> None:
    mapping[key] = value


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda r: set_in(rule(r, "after_hours")["when"], "hours", "closd"),
            "rule 'after_hours' field 'when.hours': expected one of open, closed, any, got 'closd'",
            id="hours-typo",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "after_hours"), "txt", "Hi"),
            "rule 'after_hours' field 'txt': unknown key; "
            "allowed: id, when, once_every_days, text, link",
            id="unknown-rule-key",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome")["when"], "channel", ["webchat"]),
            "rule 'welcome' field 'when.channel': unknown key; "
            "allowed: channels, languages, queues, hours, holiday",
            id="unknown-when-key",
        ),
        pytest.param(
            lambda r: set_in(r, "rule", []),
            "field 'rule': unknown key; allowed: version, default_language, languages, "
            "schedules, default_schedule, queues, rules, greet_again",
            id="unknown-top-key",
        ),
        pytest.param(
            lambda r: set_in(schedule(r)["weekly"], "mon", ["08:00-25:00"]),
            "field 'schedules.support.weekly.mon[0]': invalid time in '08:00-25:00': "
            "use 00:00 to 24:00",
            id="bad-time",
        ),
        pytest.param(
            lambda r: set_in(schedule(r)["weekly"], "fri", ["22:00-02:00"]),
            "field 'schedules.support.weekly.fri[0]': overnight range '22:00-02:00' is not "
            "supported: split it at midnight, e.g. '22:00-24:00' and '00:00-02:00' the next day",
            id="overnight-range",
        ),
        pytest.param(
            lambda r: set_in(schedule(r)["weekly"], "mon", ["08:00-13:00", "12:00-20:00"]),
            "field 'schedules.support.weekly.mon': ranges 08:00-13:00 and 12:00-20:00 overlap",
            id="overlapping-ranges",
        ),
        pytest.param(
            lambda r: set_in(schedule(r)["weekly"], "tues", ["08:00-20:00"]),
            "field 'schedules.support.weekly.tues': unknown key; "
            "allowed: mon, tue, wed, thu, fri, sat, sun",
            id="unknown-weekday",
        ),
        pytest.param(
            lambda r: set_in(schedule(r), "timezone", "Europe/Londn"),
            "field 'schedules.support.timezone': unknown time zone 'Europe/Londn'; "
            "use an IANA name such as 'Europe/London'",
            id="unknown-timezone",
        ),
        pytest.param(
            lambda r: set_in(r["queues"], "billing", "suport"),
            "field 'queues.billing': unknown schedule 'suport'; "
            "declared: support, us_technical, retired",
            id="unknown-schedule",
        ),
        pytest.param(
            lambda r: set_in(schedule(r)["holidays"][1], "date", "2026-13-25"),
            "field 'schedules.support.holidays[1].date': expected a date like 2026-12-25, "
            "got '2026-13-25'",
            id="bad-holiday-date",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome"), "id", "after_hours"),
            "rule 'after_hours' field 'id': duplicate rule id; every rule needs its own id",
            id="duplicate-id",
        ),
        pytest.param(
            lambda r: rule(r, "welcome").pop("id"),
            "rule #7 field 'id': expected a non-empty string, got nothing",
            id="missing-id",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "billing_open"), "text", {"de": "Hallo"}),
            "rule 'billing_open' field 'text': needs a text for the default language 'en' "
            "or a 'default' text",
            id="missing-default-language-text",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "billing_open"), "text", {"en": "Hi", "fr": "Salut"}),
            "rule 'billing_open' field 'text.fr': unknown key; allowed: de, en, default",
            id="undeclared-language",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome"), "once_every_days", -1),
            "rule 'welcome' field 'once_every_days': expected a whole number of days >= 0, got -1",
            id="negative-days",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome"), "once_every_days", "7"),
            "rule 'welcome' field 'once_every_days': expected a whole number of days >= 0, got '7'",
            id="days-as-text",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome")["when"], "channels", ["webchat", "sms"]),
            "rule 'welcome' field 'when.channels[1]': expected one of whatsapp, messenger, "
            "webchat, got 'sms'",
            id="unknown-channel",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "billing_open")["when"], "queues", ["biling"]),
            "rule 'billing_open' field 'when.queues[0]': expected one of billing, legacy, "
            "technical, got 'biling'",
            id="unknown-queue",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "welcome"), "text", {"en": "Back {next_open}"}),
            "rule 'welcome' field 'text.en': unknown placeholder {next_open} (none allowed "
            "here; {next_open} needs when.hours: closed, {holiday} needs when.holiday: true)",
            id="next-open-in-open-rule",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "after_hours"), "text", {"en": "Back {next_opne}"}),
            "rule 'after_hours' field 'text.en': unknown placeholder {next_opne} "
            "(allowed here: next_open)",
            id="placeholder-typo",
        ),
        pytest.param(
            lambda r: set_in(rule(r, "after_hours")["link"], "url", "community.example"),
            "rule 'after_hours' field 'link.url': expected an http(s) URL, got 'community.example'",
            id="link-without-scheme",
        ),
        pytest.param(
            lambda r: r["languages"]["de"]["days"].pop("sun"),
            "field 'languages.de.days.sun': expected a non-empty string, got nothing",
            id="missing-day-name",
        ),
        pytest.param(
            lambda r: set_in(r, "default_language", "fr"),
            "field 'default_language': 'fr' is not declared under 'languages'",
            id="undeclared-default-language",
        ),
    ],
)
def test_validation_error_names_rule_and_field(raw, write, change, expected):
    change(raw)
    path = write(raw)
    with pytest.raises(WelcomeRulesError) as error:
        load_welcome_config(path)
    assert str(error.value) == f"{path}: {expected}"


def test_bad_yaml_is_reported_with_file_and_line(write):
    path = write("version: 1\nrules: [\n")
    with pytest.raises(WelcomeRulesError) as error:
        load_welcome_config(path)
    assert str(error.value) == (
        f"{path}: invalid YAML at line 3, column 1: "
        "expected the node content, but found '<stream end>'"
    )


def test_key_given_twice_is_an_error_not_a_silent_overwrite(write):
    path = write("version: 1\ndefault_language: en\ndefault_language: de\n")
    with pytest.raises(WelcomeRulesError) as error:
        load_welcome_config(path)
    assert (
        str(error.value)
        == f"{path}: invalid YAML at line 3, column 1: duplicate key 'default_language'"
    )


def test_missing_file_is_reported(tmp_path):
    path = tmp_path / "nope.yml"
    with pytest.raises(WelcomeRulesError, match=f"^{path}: cannot read"):
        load_welcome_config(path)


def test_shipped_rules_file_loads():
    config = load_welcome_config(DEFAULT_RULES_PATH)
    assert config.default_language == "en"
    assert "after_hours" in config.rule_ids
    assert config.schedule_for("technical").name == "technical"
    assert config.schedule_for("no-such-queue").name == "support"
    assert config.schedule_for(None).name == "support"


def test_shipped_rules_tell_when_the_team_is_back():
    config = load_welcome_config(DEFAULT_RULES_PATH)
    saturday_night = datetime(2026, 6, 6, 20, 0, tzinfo=UTC)
    message = config.select(
        channel="whatsapp", language="en", queue=None, now=saturday_night, last_sent={}
    )
    assert message.rule_id == "after_hours"
    assert "back Monday at 08:00 (London time)" in message.text


# --- selection ---------------------------------------------------------------------------------


def select(config: WelcomeConfig, **overrides: Any):
    args = {"channel": "webchat", "language": "en", "queue": None, "now": WED_NOON}
    args["last_sent"] = {}
    return config.select(**{**args, **overrides})


@pytest.mark.parametrize(
    ("overrides", "rule_id", "text"),
    [
        ({}, "welcome", "Welcome!"),
        ({"channel": "rest"}, "welcome", "Welcome!"),
        ({"channel": "whatsapp"}, "whatsapp_open", "Hi on WhatsApp!"),
        ({"queue": "billing"}, "billing_open", "The billing team is here."),
        ({"queue": "Billing", "channel": "whatsapp"}, "billing_open", "The billing team is here."),
        ({"language": "de"}, "german_open", "Hallo!"),
        ({"language": "de-DE"}, "german_open", "Hallo!"),
        ({"language": "fr"}, "welcome", "Welcome (default)!"),
        ({"language": None}, "welcome", "Welcome!"),
    ],
)
def test_first_matching_rule_by_channel_language_and_queue(config, overrides, rule_id, text):
    message = select(config, **overrides)
    assert (message.rule_id, message.text) == (rule_id, text)


def test_outside_hours_says_when_the_team_is_back(config):
    message = select(config, now=WED_NIGHT)
    assert message.rule_id == "after_hours"
    assert message.text == "Closed, back tomorrow at 08:00 (London time)."
    assert message.link_url == "https://community.lumenhome.example"
    assert message.link_label == "Community answers"


def test_outside_hours_over_the_weekend_in_german(config):
    message = select(config, now=SAT_EVENING, language="de")
    assert message.text == "Zu, zurück Montag um 08:00 Uhr (Ortszeit London)."
    assert message.link_label == "Community"


def test_language_without_text_falls_back_to_default_language(config):
    message = select(config, now=SAT_EVENING, language="fr")
    assert message.text == "Closed, back Monday at 08:00 (London time)."


def test_queue_follows_its_own_schedule_and_zone(config):
    # 21:00 UTC: London has closed, New York (16:00 EST) is open.
    assert select(config, now=WED_NIGHT, queue="technical").rule_id == "welcome"
    late = datetime(2026, 1, 7, 23, 0, tzinfo=UTC)
    message = select(config, now=late, queue="technical")
    assert message.text == "Closed, back tomorrow at 09:00 (New York time)."


def test_holiday_message(config):
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)
    message = select(config, now=christmas)
    assert message.rule_id == "holiday_closed"
    assert message.text == "Closed for Christmas, back tomorrow at 09:00 (London time)."


def test_holiday_with_special_hours_is_open_until_they_end(config):
    assert select(config, now=datetime(2026, 12, 24, 13, 0, tzinfo=UTC)).rule_id == "welcome"
    message = select(config, now=datetime(2026, 12, 24, 15, 0, tzinfo=UTC))
    assert message.text == "Closed for Christmas Eve, back Saturday at 09:00 (London time)."


def test_rule_needing_next_open_is_skipped_when_team_does_not_open_soon(config):
    message = select(config, queue="legacy")
    assert (message.rule_id, message.text) == ("closed_long", "We are closed for a while.")


@pytest.mark.parametrize(("days_ago", "sent"), [(6, False), (6.99, False), (7, True), (8, True)])
def test_once_every_days(config, days_ago, sent):
    last_sent = {"welcome": WED_NOON - timedelta(days=days_ago)}
    message = select(config, last_sent=last_sent)
    assert (message is not None) is sent


def test_rule_on_cooldown_sends_nothing_rather_than_a_lesser_rule(config):
    last_sent = {"whatsapp_open": WED_NOON - timedelta(days=2)}
    assert select(config, channel="whatsapp", last_sent=last_sent) is None


def test_rule_with_zero_days_is_sent_every_time(config):
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)
    message = select(config, now=christmas, last_sent={"holiday_closed": christmas})
    assert message.rule_id == "holiday_closed"


def test_other_rules_history_does_not_block(config):
    last_sent = {"after_hours": WED_NOON - timedelta(hours=1)}
    assert select(config, last_sent=last_sent).rule_id == "welcome"


def test_greeting_again_in_customer_language(config):
    assert config.greeting_again("de-AT") == "Hallo nochmal!"
    assert config.greeting_again("fr") == "Hi again!"


def test_cached_load_rereads_a_changed_file(raw, write):
    path = write(raw)
    assert "welcome" in load_welcome_config_cached(path).rule_ids
    rule(raw, "welcome")["id"] = "welcome_renamed"
    write(raw)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert "welcome_renamed" in load_welcome_config_cached(path).rule_ids
