"""action_session_start and action_welcome as the customer (and the agent) experience them."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.welcome import ActionSessionStart, ActionWelcome

UTC = timezone.utc
WED_NOON = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # London on GMT: open
WED_NIGHT = datetime(2026, 1, 7, 21, 0, tzinfo=UTC)  # closed, back Thursday 08:00
FAQ = "https://help.lumenhome.example/faq"
COMMUNITY = "https://community.lumenhome.example"

RULES = f"""
version: 1
default_language: en
languages:
  en:
    next_open: "{{day}} at {{time}} ({{city}} time)"
    days: {{today: today, tomorrow: tomorrow, mon: Monday, tue: Tuesday, wed: Wednesday,
           thu: Thursday, fri: Friday, sat: Saturday, sun: Sunday}}
  de:
    next_open: "{{day}} um {{time}} Uhr"
    days: {{today: heute, tomorrow: morgen, mon: Montag, tue: Dienstag, wed: Mittwoch,
           thu: Donnerstag, fri: Freitag, sat: Samstag, sun: Sonntag}}
schedules:
  support:
    timezone: Europe/London
    weekly: {{mon: ["08:00-20:00"], tue: ["08:00-20:00"], wed: ["08:00-20:00"],
             thu: ["08:00-20:00"], fri: ["08:00-20:00"]}}
rules:
  - id: after_hours
    when: {{hours: closed}}
    once_every_days: 1
    text:
      en: "I'm the virtual assistant. Our team is back {{next_open}}."
      de: "Ich bin der virtuelle Assistent. Unser Team ist {{next_open}} wieder da."
    link: {{url: "{COMMUNITY}", label: Community answers}}
  - id: welcome_webchat
    when: {{channels: [webchat], hours: open}}
    once_every_days: 7
    text: {{en: "Welcome to Lumen Home support!", de: "Willkommen beim Lumen Home Support!"}}
    link: {{url: "{FAQ}", label: {{en: Help centre FAQ, de: Hilfe-Center}}}}
  - id: welcome
    when: {{hours: open}}
    once_every_days: 7
    text: {{en: "Hi, I'm the Lumen Home virtual assistant."}}
greet_again: {{en: "Hi again! How can I help?", de: "Hallo nochmal!"}}
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "welcome.yml"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    """A tracker as the action server receives it, just before `action_session_start` runs."""

    def make(
        slots: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        previous_channel: str | None = "webchat",
    ) -> Tracker:
        events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
        if previous_channel:
            events.append(
                {
                    "event": "user",
                    "text": "my thermostat is offline",
                    "input_channel": previous_channel,
                    "parse_data": {"intent": {"name": "report_problem", "confidence": 0.9}},
                }
            )
        state = {
            "sender_id": "customer-1",
            "slots": {
                "topic": None,
                "description": None,
                "reference": None,
                "handoff_active": None,
                "welcome_log": None,
                "language": None,
                "requested_slot": None,
                "session_started_metadata": metadata,
                **(slots or {}),
            },
            "latest_message": {},
            "events": events,
            "paused": False,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
        return Tracker.from_dict(state)

    return make


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def run_session_start(
    tracker: Tracker, rules: Path, now: datetime = WED_NOON
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    action = ActionSessionStart(clock=lambda: now, rules=rules)
    events = await action.run(dispatcher, tracker, {})
    return events, dispatcher.messages


async def test_session_start_in_hours_welcomes_and_carries_slots_over(rules_file, make_tracker):
    tracker = make_tracker(
        slots={
            "topic": "technical",
            "description": "thermostat offline",
            "requested_slot": "reference",
        },
        metadata={"channel": "webchat", "language": "en"},
    )
    events, messages = await run_session_start(tracker, rules_file)

    assert events[0] == SessionStarted()
    assert events[-1] == ActionExecuted("action_listen")
    assert slot_events(events) == {
        "topic": "technical",
        "description": "thermostat offline",
        "session_started_metadata": {"channel": "webchat", "language": "en"},
        "language": "en",
        "welcome_log": {"welcome_webchat": "2026-01-07T12:00:00+00:00"},
    }
    assert len(messages) == 1
    assert messages[0]["text"] == "Welcome to Lumen Home support!"
    assert messages[0]["buttons"] == [{"title": "Help centre FAQ", "url": FAQ, "type": "web_url"}]
    assert messages[0]["author_type"] == "bot"


async def test_session_start_outside_hours_says_when_the_team_is_back(rules_file, make_tracker):
    tracker = make_tracker(metadata={"channel": "whatsapp"})
    events, messages = await run_session_start(tracker, rules_file, now=WED_NIGHT)

    [message] = messages
    assert message["text"] == (
        "I'm the virtual assistant. Our team is back tomorrow at 08:00 (London time)."
        f"\n\nCommunity answers: {COMMUNITY}"
    )
    assert message["buttons"] == []  # WhatsApp gets the link as text
    assert slot_events(events)["welcome_log"] == {"after_hours": "2026-01-07T21:00:00+00:00"}


async def test_session_start_while_agent_owns_conversation_stays_paused_and_silent(
    rules_file, make_tracker
):
    tracker = make_tracker(
        slots={"handoff_active": True, "topic": "billing", "welcome_log": None},
        metadata={"channel": "webchat"},
    )
    events, messages = await run_session_start(tracker, rules_file)

    assert messages == []
    assert events[0] == SessionStarted()
    assert ConversationPaused() in events
    assert events.index(ConversationPaused()) > max(
        i for i, e in enumerate(events) if e["event"] == "slot"
    )
    assert events[-1] == ActionExecuted("action_listen")
    assert slot_events(events) == {
        "handoff_active": True,
        "topic": "billing",
        "session_started_metadata": {"channel": "webchat"},
    }


async def test_second_session_within_the_period_gets_no_repeated_welcome(rules_file, make_tracker):
    three_days_ago = (WED_NOON - timedelta(days=3)).isoformat()
    log = {"welcome_webchat": three_days_ago}
    tracker = make_tracker(slots={"welcome_log": log}, metadata={"channel": "webchat"})
    events, messages = await run_session_start(tracker, rules_file)

    assert messages == []
    assert slot_events(events)["welcome_log"] == log
    assert events[-1] == ActionExecuted("action_listen")


async def test_welcome_log_with_z_suffix_is_understood(rules_file, make_tracker):
    log = {"welcome_webchat": "2026-01-06T09:00:00Z", "other": "not a date"}
    tracker = make_tracker(slots={"welcome_log": log}, metadata={"channel": "webchat"})
    _, messages = await run_session_start(tracker, rules_file)
    assert messages == []


async def test_welcome_is_sent_again_once_the_period_is_over(rules_file, make_tracker):
    eight_days_ago = (WED_NOON - timedelta(days=8)).isoformat()
    log = {"welcome_webchat": eight_days_ago, "after_hours": eight_days_ago}
    tracker = make_tracker(slots={"welcome_log": log}, metadata={"channel": "webchat"})
    events, messages = await run_session_start(tracker, rules_file)

    assert [m["text"] for m in messages] == ["Welcome to Lumen Home support!"]
    assert slot_events(events)["welcome_log"] == {
        "welcome_webchat": "2026-01-07T12:00:00+00:00",
        "after_hours": eight_days_ago,
    }


async def test_channel_and_language_fall_back_to_input_channel_and_slot(rules_file, make_tracker):
    tracker = make_tracker(slots={"language": "de"}, metadata=None, previous_channel="rest")
    events, messages = await run_session_start(tracker, rules_file)

    assert messages[0]["text"] == "Willkommen beim Lumen Home Support!"
    assert messages[0]["buttons"][0]["title"] == "Hilfe-Center"
    assert slot_events(events)["language"] == "de"


async def test_metadata_language_wins_over_the_previous_sessions_language(rules_file, make_tracker):
    tracker = make_tracker(slots={"language": "de"}, metadata={"language": "en-GB"})
    events, messages = await run_session_start(tracker, rules_file)

    assert messages[0]["text"] == "Welcome to Lumen Home support!"
    assert slot_events(events)["language"] == "en"


async def test_unknown_channel_without_history_is_treated_as_web_chat(rules_file, make_tracker):
    tracker = make_tracker(metadata=None, previous_channel=None)
    _, messages = await run_session_start(tracker, rules_file)
    assert messages[0]["text"] == "Welcome to Lumen Home support!"


async def test_rules_path_comes_from_the_environment_at_run_time(
    rules_file, make_tracker, monkeypatch
):
    action = ActionSessionStart(clock=lambda: WED_NOON)
    monkeypatch.setenv("WELCOME_RULES_PATH", str(rules_file))
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker(metadata={"channel": "messenger"}), {})
    assert dispatcher.messages[0]["text"] == "Hi, I'm the Lumen Home virtual assistant."


async def test_broken_rules_file_still_starts_the_session(tmp_path, make_tracker, caplog):
    broken = tmp_path / "welcome.yml"
    broken.write_text("version: 1\nrules: [\n", encoding="utf-8")
    tracker = make_tracker(slots={"topic": "order"}, metadata={"channel": "webchat"})
    events, messages = await run_session_start(tracker, broken)

    assert messages == []
    assert events[0] == SessionStarted()
    assert SlotSet("topic", "order") in events
    assert events[-1] == ActionExecuted("action_listen")
    assert "invalid YAML" in caplog.text


async def test_greeting_gets_the_welcome_when_due(rules_file, make_tracker):
    dispatcher = CollectingDispatcher()
    action = ActionWelcome(clock=lambda: WED_NOON, rules=rules_file)
    events = await action.run(dispatcher, make_tracker(metadata={"channel": "webchat"}), {})

    assert [m["text"] for m in dispatcher.messages] == ["Welcome to Lumen Home support!"]
    assert slot_events(events) == {"welcome_log": {"welcome_webchat": "2026-01-07T12:00:00+00:00"}}


async def test_greeting_after_a_recent_welcome_gets_a_short_reply(rules_file, make_tracker):
    log = {"welcome_webchat": (WED_NOON - timedelta(minutes=5)).isoformat()}
    tracker = make_tracker(
        slots={"welcome_log": log, "language": "de"}, metadata={"channel": "webchat"}
    )
    dispatcher = CollectingDispatcher()
    events = await ActionWelcome(clock=lambda: WED_NOON, rules=rules_file).run(
        dispatcher, tracker, {}
    )

    assert [(m["text"], m["author_type"]) for m in dispatcher.messages] == [
        ("Hallo nochmal!", "bot")
    ]
    assert events == []


def _greeting_events(*before: dict[str, Any]) -> list[dict[str, Any]]:
    """A first "hi" as Rasa logs it: `action_session_start`'s own utterances come BEFORE the
    `session_started` event that action returns."""
    return [
        *before,
        {"event": "action", "name": "action_session_start"},
        {"event": "bot", "text": "Welcome to Lumen Home support!", "metadata": {}},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
    ]


@pytest.mark.parametrize(
    "earlier",
    [(), ({"event": "user", "text": "hi"}, {"event": "bot", "text": "Hi again!"})],
    ids=["first session", "after an expired session"],
)
async def test_a_greeting_that_opened_the_session_is_not_answered_twice(rules_file, earlier):
    """The session start already sent the welcome for this "hi": no "Hi again!" on top."""
    events = _greeting_events(*earlier)
    tracker = Tracker.from_dict(
        {"sender_id": "customer-1", "slots": {}, "latest_message": events[-1]["parse_data"],
         "events": events, "paused": False, "active_loop": {},
         "latest_action_name": "action_listen"}
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    action = ActionWelcome(clock=lambda: WED_NOON, rules=rules_file)
    assert await action.run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []


async def test_a_greeting_after_a_silent_session_start_is_answered(rules_file):
    """No welcome was due at this session start: the last session's bot line does not count."""
    events = [
        {"event": "user", "text": "thanks"},
        {"event": "bot", "text": "Take care!", "metadata": {}},
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
    ]
    log = {"welcome_webchat": (WED_NOON - timedelta(minutes=5)).isoformat()}
    tracker = Tracker.from_dict(
        {"sender_id": "customer-1", "slots": {"welcome_log": log},
         "latest_message": events[-1]["parse_data"], "events": events, "paused": False,
         "active_loop": {}, "latest_action_name": "action_listen"}
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    await ActionWelcome(clock=lambda: WED_NOON, rules=rules_file).run(dispatcher, tracker, {})
    assert [m["text"] for m in dispatcher.messages] == ["Hi again! How can I help?"]
