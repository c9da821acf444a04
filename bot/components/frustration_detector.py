"""Rasa NLU component: scores every user message for frustration and confusion.

The result lands in the message's parse data as ``{"frustration": {"score", "signals"}}``, so
it is stored on the `user` event in the tracker, published on the event broker and shown to the
agent with that line of the transcript.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.frustration import WEIGHTS, score_message

FRUSTRATION_KEY = "frustration"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FrustrationDetector(GraphComponent):
    """Adds a 0..1 frustration score and its signals to each message.

    Config: ``weights`` overrides the weight of named signals (see `bot.frustration.WEIGHTS`).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"weights": {}}

    def __init__(self, config: dict[str, Any]) -> None:
        unknown = set(config.get("weights") or {}) - set(WEIGHTS)
        if unknown:
            raise ValueError(
                f"FrustrationDetector: unknown signal(s) in 'weights': {sorted(unknown)}; "
                f"known signals: {sorted(WEIGHTS)}"
            )
        self._weights = {**WEIGHTS, **(config.get("weights") or {})}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrustrationDetector:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            if text.startswith("/"):  # a button payload, not something the customer typed
                result = {"score": 0.0, "signals": []}
            else:
                result = score_message(text, self._weights).as_dict()
            message.set(FRUSTRATION_KEY, result, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
