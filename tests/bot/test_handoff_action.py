"""`action_handoff`: queues the request, tells the customer who answers and when, pauses the bot."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.handoff_intake import INTAKE_PATH, HandoffOutbox
from actions.handoff import ActionHandoff
from customer_texts import load_texts
from harness.processes import Process, free_port
from harness.service import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
T0 = SATURDAY_NOON.timestamp() - 120
TEXTS = load_texts(REPO_ROOT / "bot/texts.yml")  # the shipped texts, as customers read them

RULES = """\
version: 1
default_language: en
default_schedule: support
languages:
  en:
    next_open: "{{day}} at {{time}} ({{city}} time)"
    days: {{today: today, tomorrow: tomorrow, mon: Monday, tue: Tuesday, wed: Wednesday,
           thu: Thursday, fri: Friday, sat: Saturday, sun: Sunday}}
schedules:
  support:
    timezone: Europe/London
    weekly: {weekly}
  technical:
    timezone: Europe/London
    weekly: {technical_weekly}
queues:
  billing: support
  technical: technical
rules:
  - id: hello
    text: "Hi, I'm the Lumen Home bot."
greet_again: "Hi again!"
"""


def weekly(hours: str, days: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"{day}: ['{hours}']" for day in days) + "}"


ALWAYS = weekly("00:00-24:00", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
WEEKDAYS_8_TO_18 = weekly("08:00-18:00", ("mon", "tue", "wed", "thu", "fri"))
NEVER = "{}"


def rules_file(tmp_path: Path, weekly: str, technical_weekly: str | None = None) -> Path:
    """Rules whose default (and billing) schedule is `weekly`; technical has its own."""
    path = tmp_path / "welcome.yml"
    text = RULES.format(weekly=weekly, technical_weekly=technical_weekly or weekly)
    path.write_text(text, encoding="utf-8")
    return path


def conversation_events(frustration: float = 0.3) -> list[dict[str, Any]]:
    """A customer describes a billing problem, the bot triages, an agent once answered earlier."""
    parse = {
        "intent": {"name": "billing_problem"},
        "entities": [],
        "frustration": {"score": frustration, "signals": ["negative_wording"]},
    }
    return [
        {"event": "session_started", "timestamp": T0},
        {
            "event": "bot",
            "timestamp": T0 + 1,
            "text": "Earlier reply",
            "data": {},
            "metadata": {"author_type": "agent", "author_name": "Sam"},
        },
        {
            "event": "user",
            "timestamp": T0 + 10,
            "text": "I was charged twice this month",
            "parse_data": parse,
            "input_channel": "whatsapp",
            "message_id": "w1",
            "metadata": {},
        },
        {
            "event": "bot",
            "timestamp": T0 + 11,
            "text": "What's your account email?",
            "data": {},
            "metadata": {"author_type": "bot"},
        },
    ]


def make_tracker(*, form_active: bool = True, **slots: Any) -> Tracker:
    events = conversation_events()
    base = {
        "topic": "billing",
        "description": "I was charged twice this month",
        "reference": "ACC-123456",
        "mode_preference": "sync",
        "device_name": None,
        "frustration": {"score": 0.3, "signals": ["negative_wording"]},
        "escalation_reason": "human_request",
        "language": "en",
        "session_started_metadata": {"channel": "whatsapp", "language": "en"},
    }
    return Tracker(
        sender_id="+447700900123",
        slots={**base, **slots},
        latest_message={"text": events[2]["text"], **events[2]["parse_data"]},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": "triage_form"} if form_active else {},
        latest_action_name="action_listen",
    )


@pytest.fixture
def outbox(tmp_path: Path) -> HandoffOutbox:
    return HandoffOutbox(tmp_path / "outbox.sqlite3")


async def run_action(
    outbox: HandoffOutbox, rules: Path, tracker: Tracker
) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    action = ActionHandoff(outbox=outbox, clock=lambda: SATURDAY_NOON, rules_file=rules)
    events = await action.run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    assert message["author_type"] == "bot"
    return events, message["text"], dispatcher.messages


def say(key: str, language: str = "en", **values: Any) -> str:
    return TEXTS.render(f"handoff.{key}", language, **values)


def handing_over(team: str, language: str = "en") -> str:
    return say("handing_over", language, team=say(f"team.{team}", language))


async def test_pauses_the_bot_and_closes_the_form(outbox, tmp_path) -> None:
    events, _, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), make_tracker())

    assert events == [
        SlotSet("handoff_active", True),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ConversationPaused(),
    ]


async def test_without_a_form_only_pauses(outbox, tmp_path) -> None:
    tracker = make_tracker(form_active=False)

    events, _, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), tracker)

    assert events == [SlotSet("handoff_active", True), ConversationPaused()]


async def test_inside_hours_a_person_replies_within_the_target(outbox, tmp_path) -> None:
    _, text, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), make_tracker())

    assert text == f"{handing_over('billing')} {say('reply_within', minutes=20)}"


async def test_async_customers_are_told_they_can_leave(outbox, tmp_path) -> None:
    tracker = make_tracker(mode_preference="async")

    _, text, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), tracker)

    assert text.endswith(f"{say('reply_within', minutes=20)} {say('you_can_leave')}")


async def test_outside_hours_the_customer_learns_when_the_team_is_back(outbox, tmp_path) -> None:
    _, text, _ = await run_action(outbox, rules_file(tmp_path, WEEKDAYS_8_TO_18), make_tracker())

    assert text == (
        f"{handing_over('billing')} "
        + say("offline_until", next_open="Monday at 08:00 (London time)")
    )


async def test_a_team_that_never_opens_promises_no_time(outbox, tmp_path) -> None:
    _, text, _ = await run_action(outbox, rules_file(tmp_path, NEVER), make_tracker())

    assert text == f"{handing_over('billing')} {say('offline')}"


async def test_the_answering_team_s_schedule_decides(outbox, tmp_path) -> None:
    rules = rules_file(tmp_path, NEVER, technical_weekly=ALWAYS)
    lock_problem = make_tracker(topic="other", description="my smart lock won't open")

    _, billing_text, _ = await run_action(outbox, rules, make_tracker())
    _, devices_text, _ = await run_action(outbox, rules, lock_problem)

    assert billing_text.endswith(say("offline"))
    assert devices_text == (
        f"{say('emergency')} {handing_over('devices')} {say('reply_within', minutes=2)}"
    )


async def test_unreadable_rules_still_hand_over(outbox, tmp_path) -> None:
    events, text, _ = await run_action(outbox, tmp_path / "missing.yml", make_tracker())

    assert ConversationPaused() in events
    assert text == f"{handing_over('billing')} {say('reply_when_available')}"
    assert len(await outbox.pending()) == 1


async def test_a_german_customer_is_told_in_german(outbox, tmp_path) -> None:
    tracker = make_tracker(
        language="de", session_started_metadata={"channel": "whatsapp", "language": "de-DE"}
    )

    _, text, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), tracker)

    assert text == f"{handing_over('billing', 'de')} {say('reply_within', 'de', minutes=20)}"
    assert text != f"{handing_over('billing')} {say('reply_within', minutes=20)}"


async def test_unreadable_texts_still_hand_over(outbox, tmp_path) -> None:
    dispatcher = CollectingDispatcher()
    action = ActionHandoff(
        outbox=outbox,
        clock=lambda: SATURDAY_NOON,
        rules_file=rules_file(tmp_path, ALWAYS),
        texts_file=tmp_path / "missing-texts.yml",
    )

    events = await action.run(dispatcher, make_tracker(), {})

    assert ConversationPaused() in events
    assert len(await outbox.pending()) == 1
    assert dispatcher.messages == []


async def test_the_queued_request_carries_triage_decision_and_transcript(outbox, tmp_path) -> None:
    tracker = make_tracker(
        frustration={"score": 0.85, "signals": ["negative_wording", "repeated_contact"]}
    )

    await run_action(outbox, rules_file(tmp_path, ALWAYS), tracker)

    [entry] = await outbox.pending()
    body = entry.body
    assert body["conversation_id"] == body["customer"]["id"] == "+447700900123"
    assert body["channel"] == "whatsapp"
    assert body["triage"]["reference"] == "ACC-123456"
    assert body["priority"] == {"level": 2, "name": "high", "first_response_minutes": 5}
    assert (body["mode"], body["team"]) == ("sync", "billing")
    assert {"frustrated", "repeat-contact", "human_request"} <= set(body["tags"])
    assert any("frustration 0.85" in reason for reason in body["reasons"])
    assert body["frustration"]["score"] == 0.85
    assert [(line["author_type"], line["text"]) for line in body["transcript"]] == [
        ("agent", "Earlier reply"),
        ("customer", "I was charged twice this month"),
        ("bot", "What's your account email?"),
    ]
    assert body["requested_at"] == "2026-11-21T12:00:00.000Z"


async def test_a_broken_outbox_does_not_promise_a_person(tmp_path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the outbox directory should be")
    outbox = HandoffOutbox(blocked / "outbox.sqlite3")

    events, text, _ = await run_action(outbox, rules_file(tmp_path, ALWAYS), make_tracker())

    assert events == []
    assert text == say("not_queued")


@pytest.mark.slow
async def test_action_server_delivers_a_handoff_to_the_service(tmp_path) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    async def intake(request: web.Request) -> web.Response:
        received.append((request.headers["Idempotency-Key"], await request.json()))
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_post(INTAKE_PATH, intake)
    runner = web.AppRunner(app)
    await runner.setup()
    intake_port, action_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", intake_port).start()
    env = {
        **os.environ,
        "HANDOFF_URL": f"http://127.0.0.1:{intake_port}",
        "HANDOFF_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "WELCOME_RULES_PATH": str(rules_file(tmp_path, ALWAYS)),
    }
    base = f"http://127.0.0.1:{action_port}"
    server = Process(
        [sys.executable, "-m", "actions.server", "--host", "127.0.0.1", "--port", str(action_port)],
        env,
        f"{base}/health",
        tmp_path / "actions.log",
        startup_seconds=20.0,
    )
    tracker = make_tracker()
    call = {
        "next_action": "action_handoff",
        "sender_id": tracker.sender_id,
        "version": "3.6.2",
        "domain": {},
        "tracker": tracker.current_state(),
    }
    try:
        await asyncio.to_thread(server.start)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/webhook", json=call) as response:
                assert response.status == 200
                result = await response.json()

            async def delivered() -> bool:
                return bool(received)

            await eventually(delivered, 20.0)
    finally:
        popen = server.popen
        if popen is not None:
            popen.send_signal(signal.SIGINT)
            exit_code = await asyncio.to_thread(popen.wait, 20)
        await runner.cleanup()

    assert {"event": "pause", "timestamp": None} in result["events"]
    assert "person" in result["responses"][0]["text"]
    [(key, body)] = received
    assert uuid.UUID(key)
    assert body["conversation_id"] == tracker.sender_id
    assert exit_code == 0
