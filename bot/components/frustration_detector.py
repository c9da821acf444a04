"""Rasa NLU component: scores every user message for frustration.

The result lands in the message's parse data as ``{"frustration": {"score", "signals"}}``, so
it is stored on the `user` event in the tracker, published on the event broker and shown to the
agent with that line of the transcript. The score is the calibrated probability that a person
would grade the message frustrated; the signals name what raised it (see `bot.frustration`).
The classifier is `bot/frustration_data/model.json`, read from the repository at start (rebuild
it with `scripts/train_frustration.py`), so there is nothing to learn at `rasa train` time.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.frustration import FrustrationModel, FrustrationResult, default_model

FRUSTRATION_KEY = "frustration"
NOT_TYPED = FrustrationResult(0.0, ())  # a button payload, not something the customer typed
# Button payloads ("/request_human") and intents triggered through Rasa's API ("EXTERNAL:
# handoff_ended" when an agent hands back) are not the customer's words: never scored.
NOT_WORDS = ("/", EXTERNAL_MESSAGE_PREFIX)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FrustrationDetector(GraphComponent):
    """Adds a 0..1 frustration score and the signals that explain it to each message."""

    def __init__(self, model: FrustrationModel) -> None:
        self._model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrustrationDetector:
        return cls(default_model())

    def process(self, messages: list[Message]) -> list[Message]:
        typed = [m for m in messages if not (m.get("text") or "").startswith(NOT_WORDS)]
        scored = dict(
            zip(
                map(id, typed),
                self._model.score_texts([m.get("text") or "" for m in typed]),
                strict=True,
            )
        )
        for message in messages:
            result = scored.get(id(message), NOT_TYPED)
            message.set(FRUSTRATION_KEY, result.as_dict(), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
