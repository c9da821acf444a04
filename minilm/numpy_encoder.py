"""The encoder's forward pass in numpy, for processes without TensorFlow (the handoff service).

numpy has no erf, so the exact GELU uses Abramowitz and Stegun's formula 7.1.26 (absolute error
under 1.5e-7); the vectors agree with the TensorFlow pass within 1e-5 (tests/bot/test_encoder.py).
"""

from __future__ import annotations

import os

# OpenBLAS's threads fight over busy cores: one message took 0.4-1.4 s with them and 0.07-0.1 s
# without on this 2-core machine under load. Only effective if numpy is not imported yet.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from minilm.model import (
    DIMENSION,
    HEADS,
    LAYER_NORM_EPS,
    Encoder,
    Shared,
    forward,
    load_weights,
    model_dir,
)

_HEAD = DIMENSION // HEADS


def _erf(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = (((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
    poly += 0.254829592
    return np.sign(x) * (1.0 - poly * t * np.exp(-a * a))


class NumpyOps:
    """`minilm.model.Ops` over float32 numpy arrays."""

    def length(self, ids: np.ndarray) -> int:
        return int(ids.shape[1])

    def embed(self, table: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return table[ids]

    def dense(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        return x @ weight + bias

    def layer_norm(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias

    def attention(self, qkv: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length, _ = qkv.shape
        q, k, v = (
            part.reshape(batch, length, HEADS, _HEAD).transpose(0, 2, 1, 3)
            for part in np.split(qkv, 3, axis=-1)
        )
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(_HEAD**-0.5)
        scores += ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3)
        return context.reshape(batch, length, DIMENSION)

    def gelu(self, x: np.ndarray) -> np.ndarray:
        return (0.5 * x * (1.0 + _erf(x * np.float32(0.5**0.5)))).astype(np.float32)


def numpy_encoder() -> Encoder:
    """A fresh encoder over the bundled files (about 1 s to load, 87 MiB of weights)."""
    directory = model_dir()
    weights = load_weights(directory)
    ops = NumpyOps()
    return Encoder(directory, lambda ids, mask: forward(ops, weights, ids, mask))


_shared = Shared(numpy_encoder)


def get_encoder() -> Encoder:
    """The process's numpy encoder, loaded on first use and shared by all threads."""
    return _shared.get()
