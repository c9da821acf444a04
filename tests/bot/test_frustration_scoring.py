"""The frustration scorer on messages an agent would read differently."""

import pytest

from bot.frustration import WEIGHTS, combine, score_conversation, score_message
from scripts.evaluate_frustration import evaluate

FRUSTRATED = 0.5  # the score from which a message counts as frustrated


@pytest.mark.parametrize(
    "text",
    [
        "LOVE the new doorbell!!!",
        "damn this thermostat is good",
        "my HUB shows a red LED, what should I do?",
        'the app says "CONNECTION FAILED - RETRY LATER", can you help?',
        "not angry, just wondering when my order ships",
        "how do I reset my password?",
    ],
)
def test_calm_or_happy_messages_are_not_frustrated(text: str) -> None:
    assert score_message(text).score < FRUSTRATED


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("THIS IS THE THIRD TIME THE CAMERA WENT OFFLINE", "shouting"),
        ("great, the app logged me out again, fantastic", "sarcasm"),
        ("I already told you my order number", "repeated_contact"),
        ("been waiting 2 hours for a reply", "long_wait"),
        ("your support is useless", "insult"),
        ("where is my refund!!!!", "heavy_punctuation"),
        ("I'm cancelling my subscription and going with another brand", "threat_to_leave"),
    ],
)
def test_frustrated_messages_name_the_signal_that_raised_them(text: str, signal: str) -> None:
    result = score_message(text)
    assert result.score >= FRUSTRATED
    assert signal in result.signals


def test_more_signals_raise_the_score_and_it_stays_below_one() -> None:
    mild = score_message("this is so annoying")
    strong = score_message("THIS IS SO ANNOYING, third time I ask!!! useless")
    assert mild.score < strong.score <= 1.0
    assert combine(WEIGHTS).score <= 1.0


def test_a_repeated_message_and_fallbacks_add_conversation_signals() -> None:
    first = score_message("where is my parcel")
    assert first.score == 0.0
    repeated = score_conversation(first, ["where is my parcel?"], "Where is my parcel", 0, 2)
    assert repeated.signals == ("repeated_message",)
    lost = score_conversation(first, [], "asdf", fallbacks_in_a_row=2, max_fallbacks=2)
    assert "fallbacks_in_a_row" in lost.signals


def test_labelled_set_keeps_the_quality_reached() -> None:
    """Floors: the figures reached when tuning the scorer (scripts/evaluate_frustration.py)."""
    result = evaluate()
    assert result.rows >= 300
    assert result.precision >= 0.99
    assert result.recall >= 0.93
    assert result.spearman >= 0.84
