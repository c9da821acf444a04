"""The dense featurizer gives DIET one encoder vector per whitespace token plus the sentence."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import RESPONSE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.sentence_encoder_featurizer import SentenceEncoderFeaturizer
from bot.encoder import DIMENSION, encode, encode_tokens


@pytest.fixture
def featurizer(tmp_path) -> SentenceEncoderFeaturizer:
    return SentenceEncoderFeaturizer.create(
        SentenceEncoderFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("encoder"),
        ExecutionContext(GraphSchema({}), "encoder_featurizer"),
    )


def tokenized(*messages: Message) -> list[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process_training_data(TrainingData(list(messages)))
    return list(messages)


def dense(message: Message, attribute: str = TEXT) -> tuple[np.ndarray, np.ndarray]:
    sequence, sentence = message.get_dense_features(attribute)
    assert sequence is not None and sentence is not None
    return sequence.features, sentence.features


def test_one_row_per_token_and_the_encoders_sentence_vector(
    featurizer: SentenceEncoderFeaturizer,
) -> None:
    text = "My hub's OFFLINE again, since 7am!!"
    (message,) = featurizer.process(tokenized(Message(data={TEXT: text})))

    sequence, sentence = dense(message)
    tokens = message.get("text_tokens")
    assert sequence.shape == (len(tokens), DIMENSION)
    assert not np.any(np.all(sequence == 0, axis=1))  # every token got a vector
    np.testing.assert_allclose(sentence[0], encode([text])[0], atol=1e-5)


def test_a_token_split_into_word_pieces_gets_their_mean(
    featurizer: SentenceEncoderFeaturizer,
) -> None:
    text = "thermostat unresponsive"
    (message,) = featurizer.process(tokenized(Message(data={TEXT: text})))
    (encoding,) = encode_tokens([text])

    pieces = [i for i, (start, _) in enumerate(encoding.offsets) if start >= len("thermostat ")]
    assert len(pieces) > 1  # "unresponsive" is several word pieces
    sequence, _ = dense(message)
    np.testing.assert_allclose(sequence[1], encoding.tokens[pieces].mean(axis=0), atol=1e-5)


def test_training_data_is_featurized_in_one_batch_for_texts_and_responses(
    featurizer: SentenceEncoderFeaturizer,
) -> None:
    examples = tokenized(
        Message(data={TEXT: "how do I reset my password", RESPONSE: "Tap 'Forgot password'."}),
        Message(data={TEXT: "hi"}),
    )

    featurizer.process_training_data(TrainingData(examples))

    assert dense(examples[0])[0].shape[0] == 6
    assert dense(examples[0], RESPONSE)[1].shape == (1, DIMENSION)
    assert dense(examples[1])[1].shape == (1, DIMENSION)
    assert examples[1].get_dense_features(RESPONSE) == (None, None)


def test_paraphrased_requests_get_close_sentence_features(
    featurizer: SentenceEncoderFeaturizer,
) -> None:
    person, indirect, weather = featurizer.process(
        tokenized(
            Message(data={TEXT: "I want to talk to a person"}),
            Message(data={TEXT: "is there someone real I could speak with"}),
            Message(data={TEXT: "what's the weather in Rome"}),
        )
    )

    def vector(message: Message) -> np.ndarray:
        return dense(message)[1][0]

    assert vector(person) @ vector(indirect) > vector(person) @ vector(weather) + 0.2
