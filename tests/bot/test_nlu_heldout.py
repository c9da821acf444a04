"""The trained model on the held-out set tests/nlu/test_intents.yml (never used for training):
the figures reached stay the floor. `bash scripts/evaluate_nlu.sh` prints the full report."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data

from harness.stack import train_model

pytestmark = pytest.mark.slow
HELD_OUT = Path(__file__).resolve().parents[2] / "tests/nlu/test_intents.yml"
# Reached with the data of this commit, parsed as the product does (the FallbackClassifier
# included), n = 180 held-out messages: accuracy 168/180; recall request_human 16/16,
# bot_challenge 10/10, out_of_scope 13/15 (a fallback also keeps it out of triage and the FAQ).
# Raise them when you improve.
MIN_ACCURACY = 0.93
# Floors at what the shipped pipeline (with the sentence encoder) reaches: bot_challenge 9/10.
# They also hold with DIET at 15 epochs and the ResponseSelector at 30 (was 40 and 60), except
# request_human: the model trained with the attachment intents added reaches 15/16 ("hiya,
# anybody about?" falls back; two fallbacks in a row still hand over).
MIN_RECALL = {"request_human": 0.93, "bot_challenge": 0.9, "out_of_scope": 0.86}
ALSO_ACCEPTED = {"out_of_scope": {"nlu_fallback"}}
MAX_BOT_CHALLENGE_AS_HUMAN_REQUEST = 1


@pytest.fixture(scope="module")
def predictions() -> list[tuple[str, str, str]]:
    """(text, expected label, predicted label); a retrieval intent counts with its answer."""
    agent = Agent.load(str(train_model()))

    async def label(text: str) -> str:
        parsed = await agent.parse_message(text)
        intent = parsed["intent"]["name"]
        selected = parsed.get("response_selector", {}).get(intent, {}).get("response", {})
        return selected.get("intent_response_key") or intent

    examples = load_data(str(HELD_OUT)).intent_examples
    labels = [e.get("intent_response_key") or e.get("intent") for e in examples]

    async def run() -> list[str]:
        return [await label(e.get("text")) for e in examples]

    predicted = asyncio.run(run())
    return [
        (e.get("text"), want, got) for e, want, got in zip(examples, labels, predicted, strict=True)
    ]


def test_intent_accuracy_stays_at_the_level_reached(predictions) -> None:
    right = sum(want == got for _, want, got in predictions)
    misses = [(text, want, got) for text, want, got in predictions if want != got]
    assert right / len(predictions) >= MIN_ACCURACY, misses


@pytest.mark.parametrize("intent", sorted(MIN_RECALL))
def test_recall_of_the_intents_that_decide_a_handoff(predictions, intent) -> None:
    accepted = {intent, *ALSO_ACCEPTED.get(intent, ())}
    mine = [(text, got) for text, want, got in predictions if want == intent]
    recall = sum(got in accepted for _, got in mine) / len(mine)
    assert recall >= MIN_RECALL[intent], [(text, got) for text, got in mine if got not in accepted]


def test_are_you_a_bot_is_not_taken_as_a_request_for_a_person(predictions) -> None:
    taken = Counter(got for _, want, got in predictions if want == "bot_challenge")
    assert taken["request_human"] <= MAX_BOT_CHALLENGE_AS_HUMAN_REQUEST, taken
