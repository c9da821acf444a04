"""A batch of mapped events stored in a handful of statements, not several per event.

The result is the one storing each event in turn (`EventSink._store_one`) would give: the same
conversations created, the same lines (deduplicated on their keys, against the store and
within the batch), `seq` in stream order, the same frustration merges into lines and
conversations, the same version bumps. The batch works in memory on the conversations' rows,
which it reads locked (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds
the only write lock), so nothing else changes them until the commit.

Statements per batch: a locked read of the conversations (and an insert and a read of the new
ones), one read of the dedupe keys already stored, two reads for the frustration readings
(their latest customer lines in the store), then one `executemany` insert of the new lines and
one per shape of update. They are plain Core statements, so SQLAlchemy compiles each once and
caches it (its dialect-specific `ON CONFLICT` constructs are compiled anew every time).

If another writer stored one of the batch's conversations or lines in the meantime (another
instance on PostgreSQL), the plain INSERT fails on the unique key before anything is
committed, and the sink stores the batch one event at a time instead, where the upserts
decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Table,
    bindparam,
    column,
    insert,
    select,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.ingest.mapping import FrustrationReading, Mapped
from handoff.lines import Frustration, Line
from handoff.models import Conversation, Message, new_id, utc_now
from handoff.repositories import line_values
from handoff.states import WITH_PEOPLE, Status

CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)


class Raced(Exception):
    """The store changed under the batch; store it event by event."""


@dataclass
class _Candidate:
    """A customer line a frustration reading may merge into (in the store or in the batch)."""

    created_at: datetime
    id: str
    values: dict[str, Any]  # its row: frustration_score / frustration_signals are updated here
    stored: bool


@dataclass
class _Conversation:
    pk: str
    status: str
    version: int
    last_seq: int
    channel: str | None
    frustration: Frustration | None
    changed: dict[str, Any] = field(default_factory=dict)
    bumps: int = 0  # version bumps: one per event that updated the row, as event by event
    lines: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, frustration: Frustration) -> None:
        self.frustration = frustration.merge(self.frustration)
        self.changed["frustration_score"] = self.frustration.score
        self.changed["frustration_signals"] = list(self.frustration.signals)


def _reading(score: float | None, signals: Sequence[str]) -> Frustration | None:
    return None if score is None else Frustration(score, tuple(signals))


async def store_mapped(session: AsyncSession, items: Sequence[Mapped]) -> list[str]:
    """Store `items` (in stream order) in the session's transaction; the ids of the new lines
    agents should see live, in order."""
    if not items:
        return []
    conversations = await _ensure(session, items)
    known = await _stored_keys(session, conversations, items)
    stored_latest = await _stored_latest(session, conversations, items)
    stored_updates: dict[str, _Candidate] = {}
    for item in items:
        conversation = conversations[item.conversation_id]
        if isinstance(item, Line):
            key = (conversation.pk, item.dedupe_key)
            if key in known:
                continue
            known.add(key)
            conversation.last_seq += 1
            conversation.lines.append(line_values(conversation.pk, item, conversation.last_seq))
            bumped = False
            if item.channel and not conversation.channel:
                conversation.channel = conversation.changed["channel"] = item.channel
                bumped = True
            if item.frustration:
                conversation.merge(item.frustration)
                bumped = True
            conversation.bumps += bumped
        elif isinstance(item, FrustrationReading):
            stored = stored_latest.get((conversation.pk, item.at))
            candidate = _latest_customer(conversation, item.at, stored)
            if candidate is not None:
                line = candidate.values
                merged = item.frustration.merge(
                    _reading(line["frustration_score"], line["frustration_signals"])
                )
                line["frustration_score"] = merged.score
                line["frustration_signals"] = list(merged.signals)
                if candidate.stored:
                    stored_updates[candidate.id] = candidate
            conversation.merge(item.frustration)
            conversation.bumps += 1
    await _write(session, list(conversations.values()), list(stored_updates.values()))
    return [
        line["id"]
        for conversation in conversations.values()
        if Status(conversation.status) in WITH_PEOPLE
        for line in conversation.lines
    ]


async def _ensure(session: AsyncSession, items: Sequence[Mapped]) -> dict[str, _Conversation]:
    """Every conversation of the batch, created (status bot) where new, read locked."""
    first: dict[str, Mapped] = {}
    for item in items:
        first.setdefault(item.conversation_id, item)
    found = await _locked(session, list(first))
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "conversation_id": conversation_id,
            "channel": item.channel if isinstance(item, Line) else None,
            "customer_id": conversation_id,
            "status": Status.BOT.value,
            "created_at": item.at,
            "updated_at": item.at,
        }
        for conversation_id, item in first.items()
        if conversation_id not in found
    ]
    if rows:  # a plain INSERT: one that another writer created meanwhile fails the batch
        await session.execute(insert(CONVERSATIONS), rows)
        found.update(await _locked(session, [row["conversation_id"] for row in rows]))
    if len(found) != len(first):
        raise Raced("a conversation of the batch vanished")
    return found


async def _locked(session: AsyncSession, conversation_ids: list[str]) -> dict[str, _Conversation]:
    query = (
        select(
            CONVERSATIONS.c.id,
            CONVERSATIONS.c.conversation_id,
            CONVERSATIONS.c.status,
            CONVERSATIONS.c.version,
            CONVERSATIONS.c.last_seq,
            CONVERSATIONS.c.channel,
            CONVERSATIONS.c.frustration_score,
            CONVERSATIONS.c.frustration_signals,
        )
        .where(CONVERSATIONS.c.conversation_id.in_(conversation_ids))
        .order_by(CONVERSATIONS.c.id)  # one lock order for every batch: no deadlock between two
        .with_for_update()
    )
    return {
        row.conversation_id: _Conversation(
            row.id,
            row.status,
            row.version,
            row.last_seq,
            row.channel,
            _reading(row.frustration_score, row.frustration_signals),
        )
        for row in await session.execute(query)
    }


async def _stored_keys(
    session: AsyncSession, conversations: dict[str, _Conversation], items: Sequence[Mapped]
) -> set[tuple[str, str]]:
    """The (conversation, dedupe key) pairs of the batch's lines already in the store."""
    wanted = {
        (conversations[item.conversation_id].pk, item.dedupe_key)
        for item in items
        if isinstance(item, Line)
    }
    if not wanted:
        return set()
    query = select(MESSAGES.c.conversation_id, MESSAGES.c.dedupe_key).where(
        MESSAGES.c.conversation_id.in_({pk for pk, _ in wanted}),
        MESSAGES.c.dedupe_key.in_({key for _, key in wanted}),
    )
    return {(row.conversation_id, row.dedupe_key) for row in await session.execute(query)} & wanted


async def _stored_latest(
    session: AsyncSession, conversations: dict[str, _Conversation], items: Sequence[Mapped]
) -> dict[tuple[str, datetime], _Candidate]:
    """For each (conversation, time) of the batch's frustration readings, the latest customer
    line in the store at or before that time (by time, then id): one statement for the batch
    (a correlated subquery per reading), one more to read those lines."""
    wanted = {
        (conversations[item.conversation_id].pk, item.at)
        for item in items
        if isinstance(item, FrustrationReading)
    }
    if not wanted:
        return {}
    keys = sorted(wanted)  # the rows are told apart by their number (SQLite hands back text times)
    readings = (  # WITH readings(pk, at) AS (VALUES ...): SQLite names no columns on a FROM
        values(
            column("n", Integer),
            column("pk", MESSAGES.c.conversation_id.type),
            column("at", MESSAGES.c.created_at.type),
            name="readings",
        )
        .data([(n, pk, at) for n, (pk, at) in enumerate(keys)])
        .cte()
    )
    latest = (
        select(MESSAGES.c.id)
        .where(
            MESSAGES.c.conversation_id == readings.c.pk,
            MESSAGES.c.author_type == "customer",
            MESSAGES.c.created_at <= readings.c.at,
        )
        .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = {
        keys[row.n]: row.id
        for row in await session.execute(select(readings.c.n, latest.label("id")))
        if row.id is not None
    }
    if not found:
        return {}
    query = select(
        MESSAGES.c.id,
        MESSAGES.c.created_at,
        MESSAGES.c.frustration_score,
        MESSAGES.c.frustration_signals,
    ).where(MESSAGES.c.id.in_(set(found.values())))
    lines = {
        row.id: _Candidate(
            row.created_at,
            row.id,
            {
                "frustration_score": row.frustration_score,
                "frustration_signals": list(row.frustration_signals),
            },
            stored=True,
        )
        for row in await session.execute(query)
    }
    return {reading: lines[line_id] for reading, line_id in found.items()}


def _latest_customer(
    conversation: _Conversation, at: datetime, stored: _Candidate | None
) -> _Candidate | None:
    """The latest customer line at or before `at` (by time, then id), in the store or the
    batch, as `Messages.latest_customer` would find it after the batch's earlier events."""
    candidates = [
        _Candidate(line["created_at"], line["id"], line, stored=False)
        for line in conversation.lines
        if line["author_type"] == "customer" and line["created_at"] <= at
    ]
    if stored is not None:
        candidates.append(stored)
    return max(candidates, key=lambda c: (c.created_at, c.id), default=None)


async def _write(
    session: AsyncSession, conversations: list[_Conversation], stored_updates: list[_Candidate]
) -> None:
    lines = [line for conversation in conversations for line in conversation.lines]
    if lines:  # new by the keys read under the lock; a line stored meanwhile fails the batch
        await session.execute(insert(MESSAGES), lines)
    if stored_updates:
        await session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == bindparam("b_id"))
            .values(
                frustration_score=bindparam("b_score"), frustration_signals=bindparam("b_signals")
            ),
            [
                {
                    "b_id": candidate.id,
                    "b_score": candidate.values["frustration_score"],
                    "b_signals": candidate.values["frustration_signals"],
                }
                for candidate in stored_updates
            ],
        )
    now = utc_now()
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for c in conversations:
        if c.lines or c.bumps:
            values = {"last_seq": c.last_seq, **c.changed}
            if c.bumps:
                values.update(version=c.version + c.bumps, updated_at=now)
            shapes.setdefault(tuple(sorted(values)), []).append(
                {"b_id": c.pk, **{f"b_{name}": value for name, value in values.items()}}
            )
    for columns, rows in shapes.items():  # a few shapes: one executemany each
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in columns}),
            rows,
        )
