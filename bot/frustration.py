"""Frustration scoring of customer messages: a calibrated classifier with named signals.

The score is the calibrated probability that a person reading the message would grade it
"frustrated" or worse (grade 2 or 3 on the 0-3 scale of `bot/frustration_data/README.md`). It
comes from one linear model (`bot/frustration_data/model.json`, fitted by
`scripts/train_frustration.py`) over three kinds of features:

- the sentence encoder's embedding of the message (`bot.encoder.encode`),
- VADER sentiment (compound, negative, positive),
- rule signals found in the text (`bot/frustration_data/signals.yml`: accusations, churn,
  no-resolution stories, masked profanity, shouting, ...) and, at conversation level, a
  repeated message and fallbacks in a row.

The signals returned with the score explain it: every rule signal found whose weight raises the
score, plus `negative_sentiment` and `frustrated_wording` when VADER or the encoder push the score
up by more than the model's explanation margin and the score is at least 0.5. The NLU component
(`bot.components.frustration_detector`) scores each message; the escalation policy adds the
conversation signals with `score_conversation`, which shifts the message's log-odds by their
weights (the calibration is a logistic curve, so the score can be taken back to log-odds).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

DATA_DIR = Path(__file__).resolve().parent / "frustration_data"
SIGNALS_PATH = DATA_DIR / "signals.yml"
MODEL_PATH = DATA_DIR / "model.json"

VADER_FEATURES = ("vader_compound", "vader_negative", "vader_positive")
TEXT_SHAPE_SIGNALS = (
    "sarcasm",
    "shouting",
    "emphasis",
    "heavy_punctuation",
    "repeated_punctuation",
    "negative_emoji",
)
CONVERSATION_SIGNALS = ("repeated_message", "fallbacks_in_a_row")
SENTIMENT_SIGNAL = "negative_sentiment"  # VADER reads the message as negative
WORDING_SIGNAL = "frustrated_wording"  # the encoder reads it as frustrated
SCORE_DECIMALS = 3
EXPLAINED = 0.5  # the encoder's and VADER's parts are named from this score (more likely than not)
_SCORE_LIMIT = 10.0**-SCORE_DECIMALS  # a rounded score of 0 or 1 is taken as this close to it
_MIN_SHOUTED_WORDS = 2
_SHOUTED_SHARE = 0.4  # of the words, for a message to count as shouted
_MIN_EMPHASIS_LETTERS = 4  # a lone short capital word is usually a code ("ERR", "LCD")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']+\b")
_ANY_WORD = re.compile(r"\b[A-Za-z][A-Za-z']+\b")
_AGAIN_SHOUTED = re.compile(r"\bAGAIN\b")  # "again" alone is ordinary ("please try again")
_QUOTED = re.compile("\"[^\"]*\"|'[^']{3,}'|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019")
_NAMES = re.compile(r"[@#]\w+|https?://\S+")  # handles, hashtags and links are not shouted
_HEAVY_PUNCTUATION = re.compile(r"[!?]{3,}")
_REPEATED_PUNCTUATION = re.compile(r"[!?]{2}|\?!|!\?")


@dataclass(frozen=True)
class FrustrationResult:
    """A score in 0..1 and the names of the signals that raised it, strongest first."""

    score: float
    signals: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"score": self.score, "signals": list(self.signals)}


def _any_of(phrases: Sequence[str]) -> re.Pattern[str]:
    """Any phrase, not inside a word (works for phrases that start or end with '*')."""
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)", re.IGNORECASE)


class SignalDetector:
    """The rule signals of `signals.yml` found in one message."""

    def __init__(self, path: Path = SIGNALS_PATH) -> None:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        self._patterns = {name: _any_of(p) for name, p in spec["signals"].items()}
        self._sarcasm = re.compile("|".join(spec["sarcasm"]), re.IGNORECASE)
        self._negated = _any_of(spec["negated"])
        self._negatable = frozenset(spec["negatable"])
        self._negative_emoji = re.compile(spec["negative_emoji"])
        self._acronyms = frozenset(spec["acronyms"])
        unknown = self._negatable - set(self._patterns)
        if unknown:
            raise ValueError(f"{path}: 'negatable' names unknown signals {sorted(unknown)}")
        self.names: tuple[str, ...] = (*self._patterns, *TEXT_SHAPE_SIGNALS)

    def _capitals(self, text: str) -> set[str]:
        """Shouting (mostly capitals) or emphasis (a capital word), apart from quotes and names."""
        unquoted = _NAMES.sub(" ", _QUOTED.sub(" ", text))
        shouted = [w for w in _CAPS_WORD.findall(unquoted) if w not in self._acronyms]
        words = len(_ANY_WORD.findall(unquoted))
        if len(shouted) >= _MIN_SHOUTED_WORDS and len(shouted) >= _SHOUTED_SHARE * words:
            return {"shouting"}
        if any(len(w) >= _MIN_EMPHASIS_LETTERS for w in shouted):
            return {"emphasis"}
        return set()

    def find(self, text: str) -> set[str]:
        found = {name for name, pattern in self._patterns.items() if pattern.search(text)}
        found |= self._capitals(text)
        if _AGAIN_SHOUTED.search(text):
            found.add("repeated_contact")
        if self._sarcasm.search(text):
            found.add("sarcasm")
        if _HEAVY_PUNCTUATION.search(text):
            found.add("heavy_punctuation")
        elif _REPEATED_PUNCTUATION.search(text):
            found.add("repeated_punctuation")
        if self._negative_emoji.search(text):
            found.add("negative_emoji")
        if self._negated.search(text):
            found -= self._negatable
        return found


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def conversation_signals(
    previous_texts: Sequence[str], text: str, fallbacks_in_a_row: int, max_fallbacks: int
) -> set[str]:
    """Signals only the conversation shows: a repeated message, fallbacks piling up."""
    found: set[str] = set()
    current = _normalise(text)
    if current and len(current) > 3 and any(_normalise(p) == current for p in previous_texts):
        found.add("repeated_message")
    if max_fallbacks > 0 and fallbacks_in_a_row >= max_fallbacks:
        found.add("fallbacks_in_a_row")
    return found


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_features(texts: Sequence[str]) -> np.ndarray:
    """(n, 3): VADER compound, negative and positive share of each text."""
    rows = [_vader().polarity_scores(t) for t in texts]
    return np.array([[r["compound"], r["neg"], r["pos"]] for r in rows], dtype=np.float64)


def signal_features(signal_sets: Sequence[set[str]], names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) 0/1 indicators of the named signals."""
    return np.array([[float(n in found) for n in names] for found in signal_sets]).reshape(
        len(signal_sets), len(names)
    )


def _embed(texts: Sequence[str]) -> np.ndarray:
    from bot.encoder import encode  # loads the encoder on first use only

    return np.asarray(encode(list(texts)), dtype=np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class FrustrationModel:
    """The fitted classifier of `model.json`, with the signal detector it was fitted with.

    Log-odds = embedding · w_e + vader · w_v + signals · w_s - threshold, then calibrated with
    Platt's logistic `a * log-odds + b`.
    """

    def __init__(self, spec: dict[str, Any], detector: SignalDetector) -> None:
        self.detector = detector
        self.signal_names: tuple[str, ...] = tuple(spec["signal_names"])
        missing = set(detector.names) ^ (set(self.signal_names) - set(CONVERSATION_SIGNALS))
        if missing:
            raise ValueError(
                f"{MODEL_PATH.name} was fitted with other signals than {SIGNALS_PATH.name} "
                f"({sorted(missing)}): rebuild it with scripts/train_frustration.py"
            )
        self._w_embedding = np.array(spec["embedding_weights"], dtype=np.float64)
        self._w_vader = np.array(spec["vader_weights"], dtype=np.float64)
        self._w_signal = dict(zip(self.signal_names, spec["signal_weights"], strict=True))
        self._threshold = float(spec["threshold"])
        self._platt_a = float(spec["platt"][0])
        self._platt_b = float(spec["platt"][1])
        self._embedding_baseline = float(spec["embedding_baseline"])
        self._margins = {name: float(m) for name, m in spec["explain_margins"].items()}
        self.sources: dict[str, str] = spec["sources"]

    @classmethod
    def load(cls, path: Path = MODEL_PATH, signals: Path = SIGNALS_PATH) -> FrustrationModel:
        return cls(json.loads(path.read_text(encoding="utf-8")), SignalDetector(signals))

    def _calibrate(self, log_odds: float) -> float:
        return float(_sigmoid(np.array(self._platt_a * log_odds + self._platt_b)))

    def score_texts(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> list[FrustrationResult]:
        """Score messages in one batch (`embeddings` when the caller already has them)."""
        if not texts:
            return []
        embedded = _embed(texts) if embeddings is None else embeddings
        wording = embedded @ self._w_embedding - self._embedding_baseline
        sentiment = vader_features(texts) @ self._w_vader
        results = []
        for text, w, v in zip(texts, wording, sentiment, strict=True):
            found = self.detector.find(text)
            parts = {name: self._w_signal[name] for name in found}
            parts[WORDING_SIGNAL] = float(w)
            parts[SENTIMENT_SIGNAL] = float(v)
            log_odds = sum(parts.values()) + self._embedding_baseline - self._threshold
            results.append(self._result(log_odds, parts))
        return results

    def _result(self, log_odds: float, parts: dict[str, float]) -> FrustrationResult:
        """The calibrated score and the parts that raise it, strongest first."""
        score = self._calibrate(log_odds)
        scaled = {n: self._platt_a * p for n, p in parts.items()}  # calibrated log-odds
        raising = [
            n
            for n, p in scaled.items()
            if p > self._margins.get(n, 0.0) and (n not in self._margins or score >= EXPLAINED)
        ]
        raising.sort(key=lambda n: (-scaled[n], n))
        return FrustrationResult(round(score, SCORE_DECIMALS), tuple(raising))

    def add_signals(self, message: FrustrationResult, extra: set[str]) -> FrustrationResult:
        """`message` with conversation signals added: their weights shift its log-odds."""
        new = extra - set(message.signals)
        if not new:
            return message
        p = min(max(message.score, _SCORE_LIMIT), 1.0 - _SCORE_LIMIT)
        calibrated_log_odds = math.log(p / (1.0 - p))
        shift = self._platt_a * sum(self._w_signal[n] for n in new)
        score = float(_sigmoid(np.array(calibrated_log_odds + shift)))
        strongest_new = sorted(new, key=lambda n: (-self._w_signal[n], n))
        return FrustrationResult(round(score, SCORE_DECIMALS), (*strongest_new, *message.signals))


@cache
def default_model() -> FrustrationModel:
    """The committed model, loaded once per process."""
    return FrustrationModel.load()


def score_message(text: str) -> FrustrationResult:
    """Score one customer message with the committed model."""
    return default_model().score_texts([text or ""])[0]


def score_conversation(
    message: FrustrationResult,
    previous_texts: Sequence[str],
    text: str,
    fallbacks_in_a_row: int,
    max_fallbacks: int,
) -> FrustrationResult:
    """Combine a message's own reading with what the conversation around it shows."""
    extra = conversation_signals(previous_texts, text, fallbacks_in_a_row, max_fallbacks)
    return default_model().add_signals(message, extra)
