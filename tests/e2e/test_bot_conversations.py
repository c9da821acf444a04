"""The bot end to end: real Rasa server, real action server, the intake contract on loopback."""

from __future__ import annotations

import time

import pytest
import yaml

from harness.processes import ROOT, wait_for
from tests.e2e.clients import Conversation, IntakeThread

pytestmark = pytest.mark.slow
DELIVERY_SECONDS = 30.0  # the relay retries with backoff from 1 s


def test_welcome_inside_business_hours(actions, customer: Conversation) -> None:
    actions(open_now=True)
    replies = customer.say("hi there")
    assert any("virtual assistant" in reply and 'type "agent"' in reply for reply in replies)
    # The session start sent the welcome: the greeting is not answered a second time.
    greet_again = yaml.safe_load((ROOT / "bot/welcome.yml").read_text())["greet_again"]["en"]
    assert greet_again not in replies, replies


def test_welcome_outside_business_hours_says_when_the_team_is_back(
    actions, customer: Conversation
) -> None:
    actions(open_now=False)
    replies = customer.say("hello")
    (welcome,) = [reply for reply in replies if "offline right now" in reply]
    assert "at 09:00 (London time)" in welcome


def test_a_bad_order_number_is_asked_again_with_a_hint(actions, customer: Conversation) -> None:
    actions(open_now=True)
    customer.say("hi")
    assert any("order number" in r for r in customer.say("my parcel hasn't arrived yet"))
    hint = customer.say("LH2048")
    assert any("8 digits" in reply for reply in hint)
    assert any("stay and chat" in reply for reply in customer.say("LH20481937"))


def test_triage_hands_off_with_the_full_transcript_and_the_bot_goes_quiet(
    actions, customer: Conversation, intake: IntakeThread
) -> None:
    actions(open_now=True)
    customer.say("hi")
    asked = customer.say("I was charged twice for my Lumen Protect plan this month")
    assert any("account" in reply.lower() for reply in asked)
    customer.say("ACC-482913")
    handed = customer.say("I'll stay and chat")
    assert any("person" in reply for reply in handed)

    (request,) = wait_for(
        lambda: intake.requests_for(customer.sender), DELIVERY_SECONDS, "handoff delivered"
    )
    assert request["triage"]["topic"] == "billing"
    assert request["triage"]["reference"] == "ACC-482913"
    assert request["mode"] == "sync" and request["team"] == "billing"
    authors = [line["author_type"] for line in request["transcript"]]
    assert authors[0] == "customer" and {"customer", "bot"} <= set(authors)
    assert "I was charged twice for my Lumen Protect plan this month" in [
        line["text"] for line in request["transcript"]
    ]

    assert customer.say("hello? anyone?") == []  # a person owns it now: the bot stays silent
    assert customer.tracker()["paused"]


def test_the_pause_survives_a_new_session(actions, customer: Conversation) -> None:
    """Rasa's SessionStarted clears a pause; action_session_start must restore it."""
    actions(open_now=True)
    customer.say("agent please")
    assert customer.tracker()["paused"]
    two_hours_ago = time.time() - 2 * 3600
    earlier = {"intent": {"name": "inform", "confidence": 1.0}, "entities": []}
    customer.append_events(
        [{"event": "user", "text": "earlier", "parse_data": earlier, "timestamp": two_hours_ago}]
    )

    assert customer.say("are you still there?") == []
    tracker = customer.tracker()
    assert tracker["paused"]
    kinds = [event["event"] for event in tracker["events"]]
    assert "session_started" in kinds and kinds.index("pause") > kinds.index("session_started")


def test_a_frustrated_customer_is_handed_off_at_once(
    actions, customer: Conversation, intake: IntakeThread
) -> None:
    actions(open_now=True)
    replies = customer.say(
        "THIRD TIME I'm writing about being charged twice, this is ridiculous!!!"
    )
    assert any("person" in reply for reply in replies)
    (request,) = wait_for(
        lambda: intake.requests_for(customer.sender), DELIVERY_SECONDS, "handoff delivered"
    )
    assert request["escalation_reason"] == "frustration"
    assert request["frustration"]["score"] >= 0.7
    assert request["priority"]["name"] in {"urgent", "high"}


def test_a_handoff_made_while_the_service_is_down_arrives_once_it_is_back(
    actions, customer: Conversation, intake: IntakeThread
) -> None:
    actions(open_now=True)
    intake.stop()
    try:
        assert any("person" in reply for reply in customer.say("can I talk to a human please"))
        time.sleep(2)  # the relay has tried and failed at least once
        assert intake.requests_for(customer.sender) == []
    finally:
        intake.start()
    requests = wait_for(
        lambda: intake.requests_for(customer.sender), DELIVERY_SECONDS, "handoff delivered"
    )
    assert len(requests) == 1


def test_the_bot_takes_back_when_the_agent_hands_back(actions, customer: Conversation) -> None:
    """What the handoff service does on "return to bot" (docs/handoff-service.md)."""
    actions(open_now=True)
    customer.say("agent please")
    customer.append_events(
        [
            {"event": "resume"},
            {"event": "slot", "name": "handoff_active", "value": False},
            {"event": "action", "name": "action_listen"},
        ]
    )
    back = customer.trigger_intent("handoff_ended")
    assert any("back with Lumen Home's virtual assistant" in reply for reply in back)
    assert any("Reset password" in reply for reply in customer.say("how do I reset my password"))
