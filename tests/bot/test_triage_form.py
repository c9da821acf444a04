"""Triage form validation as the customer sees it: skipped questions, re-asked references."""

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.triage import ValidateTriageForm, normalise_reference


def form_tracker(
    text: str,
    intent: str,
    requested_slot: str | None,
    entities: list[dict] | None = None,
    **slots: Any,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
    }
    return Tracker(
        sender_id="customer-1",
        slots={"requested_slot": requested_slot, **slots},
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "triage_form"},
        latest_action_name="action_listen",
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("LH20481937", "LH20481937"),
        ("lh-20481937", "LH20481937"),
        ("#20481937", "LH20481937"),
        ("acc 482913", "ACC-482913"),
        ("Anna.K@Example.com", "anna.k@example.com"),
        ("LH2048", None),
        ("my order", None),
    ],
)
def test_references_are_recognised_in_the_forms_customers_type(
    typed: str, stored: str | None
) -> None:
    assert normalise_reference(typed) == stored


async def test_a_detailed_first_message_is_used_as_the_description() -> None:
    tracker = form_tracker(
        "my doorbell camera shows offline since this morning", "technical_problem", None
    )
    result = await ValidateTriageForm().extract_description(CollectingDispatcher(), tracker, {})
    assert result == {"description": "my doorbell camera shows offline since this morning"}


async def test_a_short_first_message_leaves_the_description_to_ask() -> None:
    tracker = form_tracker("billing issue", "billing_problem", None)
    assert await ValidateTriageForm().extract_description(CollectingDispatcher(), tracker, {}) == {}


async def test_asking_for_a_person_is_not_taken_as_the_description() -> None:
    tracker = form_tracker("just get me a human", "request_human", "description")
    assert await ValidateTriageForm().extract_description(CollectingDispatcher(), tracker, {}) == {}


def test_a_bad_reference_is_asked_again_with_a_hint() -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker("LH2048", "inform", "reference", topic="order")
    result = ValidateTriageForm().validate_reference("LH2048", dispatcher, tracker, {})
    assert result == {"reference": None}
    (message,) = dispatcher.messages
    assert message["response"] == "utter_reference_hint_order"
    assert message["reference_attempt"] == "LH2048"
    assert message["author_type"] == "bot"


@pytest.mark.parametrize(("text", "intent"), [("I don't have it", "inform"), ("no", "deny")])
def test_a_customer_without_a_reference_can_go_on(text: str, intent: str) -> None:
    tracker = form_tracker(text, intent, "reference", topic="billing")
    result = ValidateTriageForm().validate_reference(text, CollectingDispatcher(), tracker, {})
    assert result == {"reference": "unknown"}


async def test_a_typed_reference_is_taken_when_no_entity_was_found() -> None:
    tracker = form_tracker("acc 482913", "inform", "reference")
    result = await ValidateTriageForm().extract_reference(CollectingDispatcher(), tracker, {})
    assert result == {"reference": "acc 482913"}
    with_entity = form_tracker(
        "it's LH20481937",
        "inform",
        "reference",
        [{"entity": "order_number", "value": "LH20481937"}],
    )
    assert (
        await ValidateTriageForm().extract_reference(CollectingDispatcher(), with_entity, {}) == {}
    )
