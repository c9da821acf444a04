"""Stores batches of Rasa events idempotently, with the source's cursor in the same transaction.

A source acknowledges (or advances its cursor) only after `store` returns, so a crash between the
two replays the batch and the dedupe keys keep every line single.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.ingest.mapping import Frustration, FrustrationReading, Line, Mapped, map_event
from handoff.live import Broadcaster
from handoff.models import Conversation
from handoff.repositories import Conversations, Cursors, Messages
from handoff.services.views import message_event
from handoff.states import WITH_PEOPLE, Status


class EventSink:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], live: Broadcaster) -> None:
        self.sessions = sessions
        self.live = live

    async def store(
        self, events: list[dict[str, Any]], cursor: tuple[str, str] | None = None
    ) -> None:
        mapped = [item for item in map(map_event, events) if item is not None]
        published: list[str] = []
        async with self.sessions.begin() as session:
            for item in mapped:
                if (message_id := await self._store_one(session, item)) is not None:
                    published.append(message_id)
            if cursor is not None:
                await Cursors(session).put(*cursor)
        for message_id in published:
            async with self.sessions() as session:
                event = await message_event(session, message_id)
            await self.live.publish(event)

    async def cursor(self, source: str) -> str | None:
        async with self.sessions() as session:
            return await Cursors(session).get(source)

    async def _store_one(self, session: AsyncSession, item: Mapped) -> str | None:
        """Store one mapped event; the id of a new line agents should see live."""
        channel = item.channel if isinstance(item, Line) else None
        conversations = Conversations(session)
        conversation_pk = await conversations.ensure(item.conversation_id, channel, item.at)
        if isinstance(item, FrustrationReading):
            await self._merge_frustration(session, conversation_pk, item)
            return None
        if not isinstance(item, Line):
            return None
        message_id = await Messages(session).add_line(conversation_pk, item)
        if message_id is None:
            return None
        row = await conversations.get(conversation_pk)
        assert row is not None
        values: dict[str, Any] = {}
        if channel and not row.channel:
            values["channel"] = channel
        if item.frustration:
            values.update(_merged(row, item))
        if values:
            await conversations.update_where(conversation_pk, **values)
        return message_id if Status(row.status) in WITH_PEOPLE else None

    async def _merge_frustration(
        self, session: AsyncSession, conversation_pk: str, item: FrustrationReading
    ) -> None:
        message = await Messages(session).latest_customer(conversation_pk, item.at)
        if message is not None:
            reading = item.frustration.merge(
                _reading(message.frustration_score, message.frustration_signals)
            )
            await Messages(session).update(
                message.id,
                frustration_score=reading.score,
                frustration_signals=list(reading.signals),
            )
        row = await Conversations(session).get(conversation_pk)
        assert row is not None
        await Conversations(session).update_where(conversation_pk, **_merged(row, item))


def _reading(score: float | None, signals: list[str]) -> Frustration | None:
    return None if score is None else Frustration(score, tuple(signals))


def _merged(row: Conversation, item: Line | FrustrationReading) -> dict[str, Any]:
    assert item.frustration is not None
    merged = item.frustration.merge(_reading(row.frustration_score, row.frustration_signals))
    return {"frustration_score": merged.score, "frustration_signals": list(merged.signals)}
