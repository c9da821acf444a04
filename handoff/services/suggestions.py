"""Suggested responses: the best few replies for the open conversation, from the canned reply
library (approved) and from what agents sent in resolved conversations (mined), learning from
what agents do with each (docs/suggestions.md).

Mining (`mine`, one instance under a job lease) and catching the in-memory index up with the
store (`refresh`, every instance) run in the background; encoding runs in a worker thread, so
neither blocks the event loop. A suggestion is always filled for the conversation and put in the
agent's reply box by the console, never sent by itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Invalid, NotFound
from handoff.models import (
    CannedReply,
    Conversation,
    Message,
    SuggestionEntry,
    SuggestionFeedback,
    SuggestionMined,
)
from handoff.repositories import Agents, Messages
from handoff.roles import Role
from handoff.services.auth import Principal
from handoff.services.canned_replies import CannedReplyService, render
from handoff.services.suggestion_index import Candidate, Feedback, Query, SuggestionIndex
from handoff.services.suggestion_scrub import scrub
from handoff.services.views import load_row

Encode = Callable[[Sequence[str]], np.ndarray]
logger = logging.getLogger(__name__)

CONTEXT_LINES = 3  # customer lines before a reply (and of the open conversation) that count
MINE_BATCH = 50  # conversations per mining round
MIN_REPLY_CHARS = 12  # shorter agent lines ("ok", "one moment") are not worth suggesting
PROPOSE_AFTER = 3  # a mined reply sent unchanged this often is proposed for the library
KEY_PATTERN = r"^(approved|mined):[0-9a-f]{32}$"


def _vector(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (common prefix and suffix skipped first)."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    suggestion: str = Field(pattern=KEY_PATTERN)
    outcome: Literal["sent", "dismissed"]
    text: str | None = Field(default=None, max_length=4000)


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    team: str | None = Field(default=None, max_length=64)


def _parse(model: type[BaseModel], data: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise Invalid(f"{field}: {first['msg']}", "invalid_suggestion_feedback") from error


def mined_pairs(lines: Sequence[Message]) -> list[tuple[Message, list[str]]]:
    """Each agent reply worth mining with the customer lines it answered (since the agent's
    previous line, the last `CONTEXT_LINES`); a follow-up without a customer line between is
    left out."""
    pairs: list[tuple[Message, list[str]]] = []
    waiting: list[str] = []
    for line in lines:
        if line.reaction_to or line.notice_kind or not line.text.strip():
            continue
        if line.author_type == "customer":
            waiting.append(line.text)
        elif line.author_type == "agent":
            if waiting and len(line.text.strip()) >= MIN_REPLY_CHARS:
                pairs.append((line, waiting[-CONTEXT_LINES:]))
            waiting = []
    return pairs


class SuggestionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        canned: CannedReplyService,
        encode: Encode | None = None,
    ) -> None:
        self.sessions = sessions
        self.canned = canned
        self._encode = encode
        self.index = SuggestionIndex()
        self._approved: dict[str, tuple[datetime, np.ndarray]] = {}
        self._mined_keys: set[str] = set()
        self._mined_until: datetime | None = None
        self._refreshing = asyncio.Lock()
        self._loaded = False

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, computed in a worker thread (the shared numpy encoder)."""
        if self._encode is None:
            from minilm.numpy_encoder import get_encoder  # loaded on first use only

            self._encode = get_encoder().encode
        return await asyncio.to_thread(self._encode, list(texts))

    # ---------- the background: mining and the index ----------

    async def mine(self) -> int:
        """Mine up to `MINE_BATCH` resolved conversations not mined yet; how many."""
        async with self.sessions() as session:
            done = select(SuggestionMined.conversation_id)
            rows = (
                await session.scalars(
                    select(Conversation)
                    .where(Conversation.status == "resolved", Conversation.id.not_in(done))
                    .order_by(Conversation.resolved_at)
                    .limit(MINE_BATCH)
                )
            ).all()
            found: list[tuple[Conversation, Message, str, str]] = []
            for row in rows:
                lines = await Messages(session).of(row.id)
                names = await Agents(session).names(line.author_agent_id for line in lines)
                agent_names = {*names.values()} | {
                    m.author_name for m in lines if m.author_type == "agent" and m.author_name
                }
                hide = functools.partial(
                    scrub,
                    customer_name=row.customer_name,
                    reference=row.triage_reference,
                    agent_names=agent_names,
                )
                for reply, before in mined_pairs(lines):
                    found.append((row, reply, hide(" ".join(before)), hide(reply.text)))
        if not rows:
            return 0
        vectors = await self.encode([c for *_, c, _ in found] + [t for *_, t in found])
        try:
            await self._store_mined(rows, found, vectors)
        except IntegrityError:
            # Another round (a call beside the periodic job, or an instance whose lease ran out
            # during the encoding) stored these conversations first; the batch is all or nothing.
            logger.info("suggestions: another round mined these conversations first")
            return 0
        return len(rows)

    async def _store_mined(
        self,
        rows: Sequence[Conversation],
        found: Sequence[tuple[Conversation, Message, str, str]],
        vectors: np.ndarray,
    ) -> None:
        async with self.sessions.begin() as session:
            for number, (row, reply, context, text) in enumerate(found):
                session.add(
                    SuggestionEntry(
                        conversation_id=row.id,
                        message_id=reply.id,
                        team=row.team,
                        topic=row.triage_topic,
                        device=row.triage_device_name,
                        language=row.customer_language or "en",
                        context=context,
                        text=text,
                        context_vector=vectors[number].tobytes(),
                        text_vector=vectors[len(found) + number].tobytes(),
                    )
                )
            for row in rows:
                session.add(SuggestionMined(conversation_id=row.id))

    async def refresh(self) -> None:
        """Catch the index up: the library as it is now, new mined replies, all feedback."""
        async with self._refreshing:
            await self._load_approved()
            await self._load_mined()
            await self._load_feedback()
            self._loaded = True

    async def _load_approved(self) -> None:
        async with self.sessions() as session:
            rows = (await session.scalars(select(CannedReply))).all()
        stale = [row for row in rows if self._approved.get(row.id, (None,))[0] != row.updated_at]
        if not stale and len(rows) == len(self._approved):
            return
        vectors = await self.encode([f"{row.title}. {row.text}" for row in stale])
        for row, vector in zip(stale, vectors, strict=True):
            self._approved[row.id] = (row.updated_at, vector)
        self._approved = {row.id: self._approved[row.id] for row in rows}
        self.index.set_approved(
            (
                Candidate(
                    key=f"approved:{row.id}",
                    text=row.text,
                    language=row.language,
                    topics=tuple(row.topics or ()),
                    title=row.title,
                    team=row.team_id,
                ),
                self._approved[row.id][1],
            )
            for row in rows
        )

    async def _load_mined(self) -> None:
        query = select(SuggestionEntry).order_by(SuggestionEntry.created_at)
        if self._mined_until is not None:
            query = query.where(SuggestionEntry.created_at >= self._mined_until)
        async with self.sessions() as session:
            rows = (await session.scalars(query)).all()
        for row in rows:
            key = f"mined:{row.id}"
            if key in self._mined_keys:
                continue
            self._mined_keys.add(key)
            candidate = Candidate(
                key=key,
                text=row.text,
                language=row.language,
                topics=(row.topic,) if row.topic else (),
                device=row.device,
                team=row.team,
            )
            self.index.add_mined(
                candidate, row.context, _vector(row.context_vector), _vector(row.text_vector)
            )
            self._mined_until = row.created_at

    async def _load_feedback(self) -> None:
        counted = (
            select(
                SuggestionFeedback.suggestion,
                SuggestionFeedback.topic,
                SuggestionFeedback.outcome,
                func.count(),
            )
            .where(SuggestionFeedback.outcome != "shown")
            .group_by(
                SuggestionFeedback.suggestion, SuggestionFeedback.topic, SuggestionFeedback.outcome
            )
        )
        feedback = Feedback()
        async with self.sessions() as session:
            for key, topic, outcome, count in (await session.execute(counted)).tuples():
                feedback.add(key, topic, outcome, count)
        self.index.feedback = feedback

    # ---------- agents ----------

    async def suggest(self, agent: Principal, conversation_pk: str) -> list[views.JSON]:
        """Up to three replies for the conversation, filled, each with why it matches; each
        one shown is recorded (the feedback compares the sent text with it)."""
        if not self._loaded:
            await self.refresh()
        async with self.sessions() as session:
            row = await load_row(session, conversation_pk)
            lines = await Messages(session).of(conversation_pk)
        said = [m.text for m in lines if m.author_type == "customer"]
        teams = None if agent.role.at_least(Role.SUPERVISOR) else frozenset(agent.teams)
        query = await self.query(row, said, teams)
        if query is None:
            return []
        ranked = await asyncio.to_thread(self.index.rank, query, 6)
        live = await self._still_offered([item.candidate.key for item in ranked])
        shown: list[views.JSON] = []
        async with self.sessions.begin() as session:
            for item in [item for item in ranked if item.candidate.key in live][:3]:
                filled = render(item.candidate.text, row, agent)
                session.add(
                    SuggestionFeedback(
                        conversation_id=row.id,
                        agent_id=agent.id,
                        suggestion=item.candidate.key,
                        topic=row.triage_topic,
                        outcome="shown",
                        text=filled.text,
                    )
                )
                shown.append(
                    {
                        "id": item.candidate.key,
                        "source": "approved" if item.candidate.approved else "mined",
                        "title": item.candidate.title,
                        "text": filled.text,
                        "missing": filled.missing,
                        "why": item.why,
                        "score": item.score,
                    }
                )
        return shown

    async def query(
        self, row: Conversation, said: Sequence[str], teams: frozenset[str] | None
    ) -> Query | None:
        """What to rank against: the customer's latest lines (else the triage description),
        scrubbed like the index; None when the customer has said nothing yet."""
        said = [text for text in said if text.strip()]
        text = " ".join(said[-CONTEXT_LINES:]) or (row.triage_description or "")
        if not text.strip():
            return None
        text = scrub(text, customer_name=row.customer_name, reference=row.triage_reference)
        return Query(
            text=text,
            vector=(await self.encode([text]))[0],
            topic=row.triage_topic,
            device=row.triage_device_name,
            language=row.customer_language or "en",
            teams=teams,
        )

    async def _still_offered(self, keys: Sequence[str]) -> set[str]:
        """Of `keys`, those still in the store and not replaced by an approved copy (an erased
        conversation takes its mined replies with it; the index forgets them on restart)."""
        approved = {key for key in keys if key.startswith("approved:")}
        mined = [key.removeprefix("mined:") for key in keys if key.startswith("mined:")]
        async with self.sessions() as session:
            rows = await session.scalars(
                select(SuggestionEntry.id).where(
                    SuggestionEntry.id.in_(mined), SuggestionEntry.promoted_reply_id.is_(None)
                )
            )
            live_approved = await session.scalars(
                select(CannedReply.id).where(
                    CannedReply.id.in_([key.removeprefix("approved:") for key in approved])
                )
            )
            return {f"mined:{i}" for i in rows} | {f"approved:{i}" for i in live_approved}

    async def feedback(
        self, agent: Principal, conversation_pk: str, data: Mapping[str, Any]
    ) -> views.JSON:
        """What the agent did with a suggestion shown in this conversation: sent it (unchanged
        or edited, by the edit distance between what was offered and `text`) or dismissed it."""
        body: FeedbackBody = _parse(FeedbackBody, data)
        if body.outcome == "sent" and not body.text:
            raise Invalid("text: required when outcome is sent", "invalid_suggestion_feedback")
        async with self.sessions.begin() as session:
            await load_row(session, conversation_pk)
            shown = (
                await session.scalars(
                    select(SuggestionFeedback)
                    .where(
                        SuggestionFeedback.conversation_id == conversation_pk,
                        SuggestionFeedback.suggestion == body.suggestion,
                        SuggestionFeedback.outcome == "shown",
                    )
                    .order_by(SuggestionFeedback.created_at.desc())
                    .limit(1)
                )
            ).first()
            if shown is None:
                raise Invalid(
                    "suggestion: was not shown in this conversation", "suggestion_not_shown"
                )
            distance = None
            if body.outcome == "sent":
                distance = await asyncio.to_thread(edit_distance, shown.text or "", body.text or "")
                outcome = "used" if distance == 0 else "edited"
            else:
                outcome = "rejected"
            session.add(
                SuggestionFeedback(
                    conversation_id=conversation_pk,
                    agent_id=agent.id,
                    suggestion=body.suggestion,
                    topic=shown.topic,
                    outcome=outcome,
                    edit_distance=distance,
                )
            )
        self.index.feedback.add(body.suggestion, shown.topic, outcome)
        return {"suggestion": body.suggestion, "outcome": outcome, "edit_distance": distance}

    # ---------- supervisors ----------

    async def proposals(self) -> list[views.JSON]:
        """Mined replies sent unchanged at least `PROPOSE_AFTER` times, most used first."""
        used = (
            select(SuggestionFeedback.suggestion, func.count().label("used"))
            .where(SuggestionFeedback.outcome == "used")
            .group_by(SuggestionFeedback.suggestion)
            .having(func.count() >= PROPOSE_AFTER)
            .subquery()
        )
        query = (
            select(SuggestionEntry, used.c.used)
            .join(used, used.c.suggestion == "mined:" + SuggestionEntry.id)
            .where(SuggestionEntry.promoted_reply_id.is_(None))
            .order_by(used.c.used.desc())
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).tuples().all()
        return [
            {
                "id": f"mined:{entry.id}",
                "text": entry.text,
                "topic": entry.topic,
                "team": entry.team,
                "language": entry.language,
                "used_unchanged": count,
            }
            for entry, count in rows
        ]

    async def promote(self, agent: Principal, entry_id: str, data: Mapping[str, Any]) -> views.JSON:
        """Add a proposed reply to the canned replies; it is offered as approved from now on."""
        body: PromoteBody = _parse(PromoteBody, data)
        async with self.sessions() as session:
            entry = await session.get(SuggestionEntry, entry_id)
            if entry is None or entry.promoted_reply_id is not None:
                raise NotFound(f"No proposed reply {entry_id!r}.", "proposal_not_found")
            fields = {
                "title": body.title,
                "text": entry.text,
                "team": body.team if body.team is not None else entry.team,
                "language": entry.language,
                "topics": [entry.topic] if entry.topic else [],
            }
        reply = await self.canned.create(agent, fields)
        async with self.sessions.begin() as session:
            entry = await session.get(SuggestionEntry, entry_id)
            if entry is not None:
                entry.promoted_reply_id = reply["id"]
        return reply
