"""The in-memory index of suggested responses and its ranking (docs/suggestions.md).

Each candidate is an approved (canned) reply or a mined one. Relevance to the open conversation
is meaning (the encoder's cosine between the customer's latest messages and what customers wrote
before a mined reply, or the reply itself, whose scale is lower and gets `REPLY_OFFSET`), rare
shared words (IDF-weighted overlap: product names, and an order number as `{order_reference}`),
the triage topic and the device. Approved replies get `APPROVED_BONUS`, so they win at equal
relevance, and feedback moves a candidate up or down for the topic it was shown for.
An approved reply also borrows the contexts of mined replies that say the same (`ECHO`), and
those mined copies are not offered beside it. Pure and synchronous: the service runs it in a
worker thread.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from minilm.model import DIMENSION

REPLY_OFFSET = 0.15  # a message and a reply to it are less alike than two customer messages
ECHO = 0.7  # a mined reply this close to an approved one says the same: it lends its context
APPROVED_BONUS = 0.03
WEIGHTS = {"meaning": 0.65, "words": 0.25, "topic": 0.1, "device": 0.03}
FEEDBACK_WEIGHT = 0.2
MIN_SCORE = 0.3
SHOWN = 3

_WORD = re.compile(r"\{[a-z_]+\}|[^\W_]+")
_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "that",
        "this",
        "have",
        "has",
        "had",
        "was",
        "are",
        "but",
        "not",
        "can",
        "our",
        "from",
        "will",
        "there",
        "what",
        "when",
        "just",
        "been",
        "they",
        "them",
        "then",
        "than",
        "into",
        "about",
        "would",
        "could",
        "should",
        "its",
        "please",
        "thanks",
        "thank",
        "hello",
        "dear",
        "let",
        "know",
        "get",
        "got",
        "any",
        "all",
        "now",
        "yes",
    }
)


def words(text: str) -> set[str]:
    """The words lexical matching looks at: lower case, no stop words, placeholders kept."""
    return {
        w
        for w in _WORD.findall(text.lower())
        if (w.startswith("{") or len(w) >= 3) and w not in _STOPWORDS
    }


@dataclass(frozen=True)
class Candidate:
    key: str  # approved:<canned reply id> | mined:<entry id>
    text: str  # with {placeholders}
    language: str
    topics: tuple[str, ...] = ()  # approved: what it answers (empty: any); mined: its topic
    device: str | None = None
    title: str | None = None
    team: str | None = None

    @property
    def approved(self) -> bool:
        return self.key.startswith("approved:")


@dataclass(frozen=True)
class Query:
    text: str  # the customer's latest messages, scrubbed like the index
    vector: np.ndarray
    topic: str | None
    device: str | None
    language: str
    teams: frozenset[str] | None = None  # approved replies of these teams only (None: all)


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float
    why: list[str]


@dataclass
class Feedback:
    """Outcomes per (suggestion, topic): used, edited, rejected."""

    counts: dict[tuple[str, str | None], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def add(self, key: str, topic: str | None, outcome: str, count: int = 1) -> None:
        self.counts[(key, topic)][outcome] += count

    def adjustment(self, key: str, topic: str | None) -> float:
        """Up for replies sent as they were, down for rejected ones, in (-0.2, 0.2); a few
        outcomes move it little (the +3 below), many move it close to the limit."""
        seen = self.counts.get((key, topic))
        if not seen:
            return 0.0
        used, edited, rejected = seen["used"], seen["edited"], seen["rejected"]
        return FEEDBACK_WEIGHT * (used + 0.5 * edited - rejected) / (used + edited + rejected + 3)


class _Pool:
    """Candidates, their reply vectors (and mined ones' context vectors), an inverted index."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        self._texts: list[np.ndarray] = []
        self._contexts: list[np.ndarray] = []
        self._languages: list[str] = []
        self._stacked: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(
        self, candidate: Candidate, lexical: str, text: np.ndarray, context: np.ndarray | None
    ) -> None:
        for word in words(lexical):
            self.postings[word].append(len(self.candidates))
        self.candidates.append(candidate)
        self._texts.append(text)
        self._languages.append(candidate.language)
        if context is not None:
            self._contexts.append(context)
        self._stacked = None

    def vectors(self) -> np.ndarray:
        return self._stack()[0]

    def _stack(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._stacked is None:
            empty = np.zeros((0, DIMENSION), np.float32)
            self._stacked = (
                np.stack(self._texts) if self._texts else empty,
                np.stack(self._contexts) if self._contexts else empty,
                np.array(self._languages),
            )
        return self._stacked

    def meaning(self, query: Query) -> np.ndarray:
        """Per candidate: cosine with the reply plus `REPLY_OFFSET`, or with the context
        (whichever is higher); -inf for another language than the customer's."""
        texts, contexts, languages = self._stack()
        meaning = texts @ query.vector + REPLY_OFFSET
        if len(contexts):
            meaning = np.maximum(meaning, contexts @ query.vector)
        meaning[languages != query.language] = -np.inf
        return meaning


class SuggestionIndex:
    """Approved replies (replaced as a whole when the library changes) and mined replies
    (appended as conversations resolve); `rank` gives the best few for a query."""

    def __init__(self) -> None:
        self.approved = _Pool()
        self.mined = _Pool()
        self.feedback = Feedback()
        self._echoes: tuple[tuple[int, int], list[np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self.approved.candidates) + len(self.mined.candidates)

    def set_approved(self, items: Iterable[tuple[Candidate, np.ndarray]]) -> None:
        pool = _Pool()
        for candidate, vector in items:
            pool.add(candidate, f"{candidate.title or ''} {candidate.text}", vector, None)
        self.approved = pool

    def add_mined(
        self,
        candidate: Candidate,
        context: str,
        context_vector: np.ndarray,
        text_vector: np.ndarray,
    ) -> None:
        self.mined.add(candidate, f"{context} {candidate.text}", text_vector, context_vector)

    def echoes(self) -> list[np.ndarray]:
        """Per approved reply, the mined replies saying the same (text cosine >= `ECHO`): what
        customers wrote before them is evidence for the approved one too."""
        sizes = (len(self.approved.candidates), len(self.mined.candidates))
        if self._echoes is None or self._echoes[0] != sizes:
            if not all(sizes):
                similar = np.zeros((sizes[0], 0), dtype=bool)
            else:
                similar = self.approved.vectors() @ self.mined.vectors().T >= ECHO
            self._echoes = (sizes, [np.flatnonzero(row) for row in similar])
        return self._echoes[1]

    def rank(self, query: Query, limit: int = SHOWN, exclude: Sequence[str] = ()) -> list[Ranked]:
        """The best `limit` candidates over `MIN_SCORE`, distinct texts, best first."""
        query_words = words(query.text)
        total = len(self)
        idf = {
            w: math.log(
                1
                + total
                / (1 + len(self.approved.postings.get(w, ())) + len(self.mined.postings.get(w, ())))
            )
            for w in query_words
        }
        scored: list[tuple[float, int, _Pool, np.ndarray, np.ndarray]] = []
        mined_meaning = self.mined.meaning(query)
        for pool in (self.approved, self.mined):
            if not pool.candidates:
                continue
            meaning = mined_meaning if pool is self.mined else self.approved.meaning(query)
            if pool is self.approved:
                for row, echoed in enumerate(self.echoes()):
                    if len(echoed):
                        meaning[row] = max(meaning[row], mined_meaning[echoed].max())
            shared = np.zeros(len(pool.candidates), dtype=np.float32)
            for w in query_words:
                for row in pool.postings.get(w, ()):
                    shared[row] += idf[w]
            lexical = shared / max(sum(idf.values()), 1e-9)
            base = WEIGHTS["meaning"] * meaning + WEIGHTS["words"] * lexical
            top = min(len(base), 50 + limit)  # topic, device and feedback add at most 0.36
            for row in np.argpartition(-base, top - 1)[:top]:
                if not np.isfinite(base[row]):
                    continue
                scored.append((float(base[row]), int(row), pool, meaning, lexical))
        results: list[tuple[Ranked, _Pool, int]] = []
        for score, row, pool, meaning, lexical in scored:
            candidate = pool.candidates[row]
            if candidate.key in exclude:
                continue
            if (
                candidate.approved
                and query.teams is not None
                and candidate.team is not None
                and candidate.team not in query.teams
            ):
                continue
            ranked = self._explain(
                candidate, score, float(meaning[row]), float(lexical[row]), query, query_words
            )
            results.append((ranked, pool, row))
        results.sort(key=lambda item: -item[0].score)
        chosen: list[Ranked] = []
        said: set[int] = set()  # mined rows an approved reply already offered says the same as
        for item, pool, row in results:
            if item.score < MIN_SCORE or any(
                c.candidate.text == item.candidate.text for c in chosen
            ):
                continue
            if pool is self.mined and row in said:
                continue
            if pool is self.approved:
                said.update(int(mined) for mined in self.echoes()[row])
            chosen.append(item)
            if len(chosen) == limit:
                break
        return chosen

    def _explain(
        self,
        candidate: Candidate,
        base: float,
        meaning: float,
        lexical: float,
        query: Query,
        query_words: set[str],
    ) -> Ranked:
        why = [
            "approved reply from the team's library"
            if candidate.approved
            else "an agent's reply in a resolved conversation",
            f"close in meaning to what the customer wrote ({meaning:.2f})",
        ]
        score = base
        if query.topic and (
            query.topic in candidate.topics or (candidate.approved and not candidate.topics)
        ):
            full = query.topic in candidate.topics
            score += WEIGHTS["topic"] * (1.0 if full else 0.5)
            if full:
                why.append(f"same topic: {query.topic.replace('_', ' ')}")
        if query.device and candidate.device and query.device.lower() == candidate.device.lower():
            score += WEIGHTS["device"]
            why.append(f"same device: {candidate.device}")
        if lexical > 0:
            shared = sorted(words(f"{candidate.title or ''} {candidate.text}") & query_words)
            if shared:
                shown = ", ".join(w.strip("{}").replace("_", " ") for w in shared[:4])
                why.append(f"shares: {shown}")
        if candidate.approved:
            score += APPROVED_BONUS
        adjustment = self.feedback.adjustment(candidate.key, query.topic)
        score += adjustment
        seen = self.feedback.counts.get((candidate.key, query.topic), Counter())
        if adjustment > 0:
            why.append(f"sent as suggested {seen['used']}x for this topic")
        elif adjustment < 0:
            why.append(f"dismissed {seen['rejected']}x for this topic")
        return Ranked(candidate, round(score, 4), why)
