"""Triage form validation: the reference is checked and re-asked with a hint, the description is
taken from the first message when it already explains the problem."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

PROBLEM_INTENTS = frozenset(
    {"billing_problem", "technical_problem", "account_login", "order_delivery", "complaint"}
)
# Intents that answer something else than the question asked.
NOT_AN_ANSWER = frozenset({"request_human", "stay_and_chat", "answer_later", "greet", "goodbye"})
MIN_DESCRIPTION_WORDS = 5
MAX_DESCRIPTION_CHARS = 2000
UNKNOWN_REFERENCE = "unknown"

_ORDER_NUMBER = re.compile(r"^(?:LH[-\s]?)?(\d{8})$", re.IGNORECASE)
_ACCOUNT_ID = re.compile(r"^ACC[-\s]?(\d{6})$", re.IGNORECASE)
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
_NO_REFERENCE = re.compile(
    r"\b(?:don'?t|do not|dont|can'?t|cannot) (?:have|find|know|remember)|no idea|not sure|"
    r"lost it|skip|haven'?t got",
    re.IGNORECASE,
)


def normalise_reference(text: str) -> str | None:
    """The canonical form of an order number, account ID or email; None when it is none."""
    value = text.strip().strip(".#").strip()
    if match := _ORDER_NUMBER.match(value):
        return f"LH{match.group(1)}"
    if match := _ACCOUNT_ID.match(value):
        return f"ACC-{match.group(1)}"
    if _EMAIL.match(value):
        return value.lower()
    return None


def latest_turn(tracker: Tracker) -> tuple[str, str]:
    """The customer's latest text and its intent's name (empty strings when missing)."""
    message = tracker.latest_message or {}
    return message.get("text") or "", (message.get("intent") or {}).get("name") or ""


class ValidateTriageForm(FormValidationAction):
    """Validates and fills the slots of `triage_form`."""

    def name(self) -> str:
        return "validate_triage_form"

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("description"):
            return {}
        text, intent = latest_turn(tracker)
        if not text or text.startswith("/") or intent in NOT_AN_ANSWER:
            return {}
        asked = tracker.get_slot("requested_slot") == "description"
        if asked or (intent in PROBLEM_INTENTS and len(text.split()) >= MIN_DESCRIPTION_WORDS):
            return {"description": text[:MAX_DESCRIPTION_CHARS]}
        return {}

    async def extract_reference(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A typed answer to the reference question; entities are mapped by the domain."""
        if tracker.get_slot("requested_slot") != "reference":
            return {}
        text, intent = latest_turn(tracker)
        entities = (tracker.latest_message or {}).get("entities") or []
        if intent in NOT_AN_ANSWER or any(
            e.get("entity") in {"order_number", "account_id", "account_email"} for e in entities
        ):
            return {}
        return {"reference": text}

    def validate_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        _, intent = latest_turn(tracker)
        if intent == "deny" or _NO_REFERENCE.search(text):
            return {"reference": UNKNOWN_REFERENCE}
        if reference := normalise_reference(text):
            return {"reference": reference}
        hint = (
            "utter_reference_hint_order"
            if tracker.get_slot("topic") == "order"
            else "utter_reference_hint_account"
        )
        dispatcher.utter_message(response=hint, reference_attempt=text[:40], author_type="bot")
        return {"reference": None}
