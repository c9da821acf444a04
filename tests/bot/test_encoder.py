"""The sentence encoder: same vectors as the reference implementation, offline, cached."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot import encoder
from bot.encoder import DIMENSION, SentenceEncoder, encode, encode_tokens, get_encoder
from minilm.model import Shared

REFERENCE = Path(__file__).parents[1] / "fixtures" / "encoder" / "reference.json"


def test_vectors_are_normalised_float32_one_row_per_text() -> None:
    vectors = encode(["my hub is offline", "", "refund please " * 200])

    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encode([]).shape == (0, DIMENSION)


def test_a_text_gets_the_same_vector_alone_or_batched_with_longer_texts() -> None:
    text = "where is my order"
    alone = encode([text])[0]
    longer = "a much longer message about a parcel that never came " * 3
    batched = encode_tokens([longer, text, "hi"])  # a fresh pass: encode would reuse `alone`

    np.testing.assert_allclose(batched[1].sentence, alone, atol=1e-5)
    np.testing.assert_allclose(encode([text])[0], alone, atol=1e-6)


def test_paraphrases_are_closer_than_unrelated_sentences() -> None:
    hub, paraphrase, person, weather = encode(
        [
            "my hub keeps going offline",
            "the hub lost its connection again",
            "can I talk to a real person",
            "will it rain in Paris tomorrow",
        ]
    )

    assert hub @ paraphrase > hub @ person
    assert hub @ paraphrase > hub @ weather
    assert person @ encode(["I want to speak to a human agent"])[0] > person @ weather


def test_matches_sentence_transformers_reference_vectors() -> None:
    reference = json.loads(REFERENCE.read_text())
    ours = encode([item["text"] for item in reference])
    theirs = np.array([item["vector"] for item in reference], dtype=np.float32)
    cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)

    assert len(reference) == 20
    assert cosines.min() > 0.999, dict(
        zip([item["text"] for item in reference], cosines.round(5), strict=True)
    )


def test_token_vectors_come_with_their_place_in_the_text() -> None:
    text = "Hub OFFLINE again!"
    (result,) = encode_tokens([text])

    pieces = [text[start:end].lower() for start, end in result.offsets]
    assert "".join(pieces) == "hubofflineagain!"
    assert result.tokens.shape == (len(result.offsets), DIMENSION)
    np.testing.assert_allclose(result.sentence, encode([text])[0], atol=1e-6)


def test_loads_and_encodes_without_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    fresh = SentenceEncoder(encoder.model_dir())
    assert fresh.encode(["offline check"]).shape == (1, DIMENSION)


def test_one_encoder_per_process_whichever_thread_asks_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encoder, "_shared", Shared(lambda: SentenceEncoder(encoder.model_dir())))
    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(lambda _: get_encoder(), range(4)))

    assert all(item is loaded[0] for item in loaded)


def test_the_numpy_pass_gives_the_bot_s_vectors() -> None:
    """The handoff service encodes with the same steps in numpy (minilm.numpy_encoder)."""
    from minilm.numpy_encoder import numpy_encoder

    texts = ["my hub keeps going offline", "Rückerstattung für LH20481937 bitte", "hi"]

    np.testing.assert_allclose(numpy_encoder().encode(texts), encode(texts), atol=1e-5)


def test_a_message_just_encoded_with_its_tokens_needs_no_second_pass() -> None:
    """In a parse the dense featurizer encodes the message, then the frustration scorer does."""
    from minilm.model import RECENT_TEXTS, Encoder, forward, load_weights, model_dir
    from minilm.numpy_encoder import NumpyOps

    weights, ops, batches = load_weights(model_dir()), NumpyOps(), []

    def counted(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batches.append(len(ids))
        return forward(ops, weights, ids, mask)

    counting = Encoder(model_dir(), counted)
    message = "you keep telling me it is fixed and it is not"
    featurized = counting.encode_tokens([message])[0]
    scored = counting.encode([message, "hello", message])

    assert batches == [1, 1]  # only "hello" was new
    np.testing.assert_array_equal(scored[0], featurized.sentence)
    np.testing.assert_array_equal(scored[2], featurized.sentence)
    np.testing.assert_allclose(scored[1], encode(["hello"])[0], atol=1e-5)
    counting.encode_tokens([f"message {n}" for n in range(RECENT_TEXTS)])
    counting.encode([message])  # pushed out by newer texts: encoded again
    assert batches[-1] == 1 and len(batches) == 2 + 2 + 1
