"""The detector scores what customers typed, never button payloads or triggered intents."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components.frustration_detector import FRUSTRATION_KEY, FrustrationDetector
from bot.frustration import default_model


@pytest.fixture(scope="module")
def detector() -> FrustrationDetector:
    return FrustrationDetector(default_model())


@pytest.mark.parametrize(
    "text",
    [
        "EXTERNAL: handoff_ended",  # an agent handed back through Rasa's API: not the customer
        "/request_human",  # a button press
    ],
)
def test_what_the_customer_did_not_type_is_not_scored(detector, text):
    [message] = detector.process([Message(data={"text": text})])
    assert message.get(FRUSTRATION_KEY) == {"score": 0.0, "signals": []}


def test_what_the_customer_typed_is_scored(detector):
    [message] = detector.process([Message(data={"text": "YOU ARE CROOKS AND LIARS, I AM DONE"})])
    assert message.get(FRUSTRATION_KEY)["score"] >= 0.5
