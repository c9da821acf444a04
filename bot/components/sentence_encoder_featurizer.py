"""Rasa dense featurizer backed by the pretrained sentence encoder (`bot.encoder`).

For each featurizable attribute (the customer's text, a retrieval intent's response, an action
text) it adds, next to the sparse features of the same message:

- a sentence feature (1, 384): the encoder's normalised sentence vector;
- sequence features (tokens, 384): one row per token of the pipeline's tokenizer, the mean of
  the contextual word-piece vectors that overlap the token's characters (zeros for a token the
  encoder cut off past its 256 word pieces).

DIETClassifier and ResponseSelector combine them with the sparse features on their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.encoder import DIMENSION, TokenEncoding, encode_tokens, encoder_version, get_encoder


def align_to_tokens(encoding: TokenEncoding, tokens: list[Token]) -> np.ndarray:
    """One row per token: the mean of the word-piece vectors inside the token's span."""
    starts = np.array([start for start, _ in encoding.offsets], dtype=np.int64)
    ends = np.array([end for _, end in encoding.offsets], dtype=np.int64)
    rows = np.zeros((len(tokens), DIMENSION), dtype=np.float32)
    for row, token in enumerate(tokens):
        inside = (starts < token.end) & (ends > token.start)
        if inside.any():
            rows[row] = encoding.tokens[inside].mean(axis=0)
    return rows


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence and token features from all-MiniLM-L6-v2 (loaded once per process)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Part of Rasa's cache key: another model package version re-encodes the training data.
        return {**DenseFeaturizer.get_default_config(), "encoder": encoder_version()}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to configure besides Rasa's `alias`."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        get_encoder()  # loaded with the model, so the first customer's turn does not wait for it
        return cls(name=execution_context.node_name, config=config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def _featurize(self, messages: list[Message]) -> None:
        """Encodes each attribute of all messages in one batched call."""
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            with_text = [
                message
                for message in messages
                if message.get(attribute) and message.get(TOKENS_NAMES[attribute])
            ]
            if not with_text:
                continue
            encodings = encode_tokens([message.get(attribute) for message in with_text])
            for message, encoding in zip(with_text, encodings, strict=True):
                self.add_features_to_message(
                    sequence=align_to_tokens(encoding, message.get(TOKENS_NAMES[attribute])),
                    sentence=encoding.sentence[None, :],
                    attribute=attribute,
                    message=message,
                )
