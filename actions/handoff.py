"""`action_handoff`: hand the conversation to a person and pause the bot.

The request (triage slots, the policy's decision, the transcript) is committed to the durable
outbox before the customer is told anything; the action server's `OutboxRelay` delivers it to the
handoff service. The customer learns that a person takes over and when to expect the reply: within
the priority's target while the team's schedule is open, otherwise when the team is back.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.handoff_intake import HandoffOutbox, HandoffSettings, outbox_for
from actions.priority import HandoffDecision, Mode, Priority, Team, TriageFacts, decide
from actions.transcript import (
    build_transcript,
    current_session,
    merge_frustration,
    peak_frustration,
)
from actions.welcome_rules import (
    WelcomeConfig,
    WelcomeRulesError,
    load_welcome_config_cached,
    rules_path,
)
from contracts.intake import TRIAGE_FIELDS, Customer, IntakeRequest
from contracts.intake import Priority as IntakePriority
from contracts.values import channel_name
from customer_texts import CustomerTexts, TextsError, load_texts_cached

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
# Team -> queue name of the welcome rules file (bot/welcome.yml names queues after triage topics).
TEAM_QUEUES = {
    Team.BILLING: "billing",
    Team.DEVICES: "technical",
    Team.ACCOUNTS: "account",
    Team.ORDERS: "order",
    Team.CARE: "complaint",
}


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _slot_text(tracker: Tracker, name: str) -> str | None:
    value = tracker.get_slot(name)
    return str(value) if value not in (None, "") else None


def _channel(tracker: Tracker) -> str | None:
    metadata = tracker.get_slot("session_started_metadata") or {}
    channel = metadata.get("channel") or tracker.get_latest_input_channel()
    return channel_name(channel)


def _language(tracker: Tracker) -> str:
    metadata = tracker.get_slot("session_started_metadata") or {}
    return _slot_text(tracker, "language") or metadata.get("language") or DEFAULT_LANGUAGE


def build_request(tracker: Tracker, now: datetime) -> tuple[dict[str, Any], HandoffDecision]:
    """The handoff request body (see docs/handoff-intake.md) and the decision behind it."""
    transcript = build_transcript(tracker.events)
    session = build_transcript(current_session(tracker.events))
    customer_words = [
        line["text"]
        for line in session
        if line["author_type"] == "customer" and not line["payload"]
    ]
    peak = peak_frustration(session)
    frustration = merge_frustration(peak, tracker.get_slot("frustration")) or peak
    triage = {name: _slot_text(tracker, name) for name in TRIAGE_FIELDS}
    escalation_reason = _slot_text(tracker, "escalation_reason")
    decision = decide(
        TriageFacts(
            topic=triage["topic"],
            description="\n".join(filter(None, [triage["description"], *customer_words])),
            mode_preference=triage["mode_preference"],
            frustration_score=frustration["score"],
            frustration_signals=tuple(frustration["signals"]),
            escalation_reason=escalation_reason,
            latest_intent=((tracker.latest_message or {}).get("intent") or {}).get("name"),
            device_name=triage["device_name"],
        )
    )
    request = IntakeRequest(
        conversation_id=tracker.sender_id,
        channel=_channel(tracker),
        customer=Customer(id=tracker.sender_id, language=_language(tracker)),
        triage=triage,
        priority=IntakePriority(
            level=int(decision.priority),
            name=decision.priority.name.lower(),
            first_response_minutes=decision.first_response_minutes,
        ),
        mode=decision.mode.value,
        team=decision.team.value,
        tags=list(decision.tags),
        reasons=list(decision.reasons),
        frustration=frustration,
        escalation_reason=escalation_reason,
        transcript=transcript,
        requested_at=now,
    )
    body = request.to_json()
    return body, decision


def handoff_message(
    decision: HandoffDecision,
    rules: WelcomeConfig | None,
    now: datetime,
    texts: CustomerTexts,
    language: str | None,
) -> str:
    """What the customer is told: a person takes over, and when the reply comes (the team's
    hours from the welcome rules, or no time promised when they could not be read)."""
    language = texts.language_of(language)

    def say(key: str, **values: Any) -> str:
        return texts.render(f"handoff.{key}", language, **values)

    parts = []
    if decision.priority is Priority.URGENT and decision.team is not Team.ACCOUNTS:
        parts.append(say("emergency"))
    parts.append(say("handing_over", team=say(f"team.{decision.team.value}")))
    if rules is None:
        parts.append(say("reply_when_available"))
        return " ".join(parts)
    schedule = rules.schedule_for(TEAM_QUEUES[decision.team])
    if schedule.is_open(now):
        parts.append(say("reply_within", minutes=decision.first_response_minutes))
        if decision.mode is Mode.ASYNC:
            parts.append(say("you_can_leave"))
        return " ".join(parts)
    holiday = schedule.holiday_name(now)
    opening = schedule.next_open(now)
    values = {"holiday": holiday} if holiday else {}
    key = "holiday" if holiday else "offline"
    if opening:
        values["next_open"] = rules.format_opening(opening, now, language)
        key += "_until"
    parts.append(say(key, **values))
    return " ".join(parts)


class ActionHandoff(Action):
    """Queue the conversation for a person, tell the customer, pause the bot.

    `outbox`, `clock`, `rules_file` and `texts_file` are for tests; by default the outbox is the
    process-wide one of HANDOFF_OUTBOX_PATH (shared with the relay that actions/server.py runs),
    the rules file is WELCOME_RULES_PATH or bot/welcome.yml and the customer texts are
    CUSTOMER_TEXTS_PATH or bot/texts.yml, all resolved when the action runs.
    """

    def __init__(
        self,
        outbox: HandoffOutbox | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rules_file: Path | None = None,
        texts_file: Path | None = None,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rules_file = rules_file
        self._texts_file = texts_file

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        now = self._clock()
        body, decision = build_request(tracker, now)
        language = _language(tracker)
        outbox = self._outbox or outbox_for(HandoffSettings.from_env().outbox_path)
        try:
            key = await outbox.enqueue(body)
        except (sqlite3.Error, OSError):
            logger.exception("could not queue the handoff of %s", tracker.sender_id)
            self._tell(dispatcher, lambda texts: texts.render("handoff.not_queued", language))
            return []
        logger.info(
            "handoff %s queued: %s, %s, %s priority",
            key,
            tracker.sender_id,
            decision.team.value,
            decision.priority.name.lower(),
        )
        self._tell(
            dispatcher, lambda texts: handoff_message(decision, self._rules(), now, texts, language)
        )
        events: list[EventType] = [SlotSet("handoff_active", True)]
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return [*events, ConversationPaused()]

    def _tell(
        self, dispatcher: CollectingDispatcher, compose: Callable[[CustomerTexts], str]
    ) -> None:
        """Send the text `compose` makes from the customer texts; a broken texts file (also
        refused at action server start) is logged and must not undo the handoff."""
        try:
            texts = load_texts_cached(self._texts_file)
        except TextsError:
            logger.exception("customer texts unreadable; the customer is not told")
            return
        dispatcher.utter_message(text=compose(texts), author_type="bot")

    def _rules(self) -> WelcomeConfig | None:
        """The welcome rules (the teams' hours), or None when they cannot be read (the handoff
        itself does not depend on them)."""
        try:
            return load_welcome_config_cached(self._rules_file or rules_path())
        except WelcomeRulesError:
            logger.exception("welcome rules unreadable; not promising a reply time")
            return None
