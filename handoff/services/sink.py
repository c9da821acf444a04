"""Stores batches of Rasa events idempotently, with the source's cursor in the same transaction.

A source acknowledges (or advances its cursor) only after `store` returns, so a crash between the
two replays the batch and the dedupe keys keep every line single.

One bad event never stops the stream: an event that does not fit its shape (`mapping`), or that
the database refuses, is kept as a dead letter (`DeadLetters`) in the same transaction and the
rest of the batch is stored. A batch is first stored in one go; if the database refuses it, it
is stored again one event per savepoint, so exactly the refused events are set aside. A failure
of the database itself (`failures.is_transient`) is raised: the source retries the batch, and
nothing is set aside.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.failures import Rejected, describe, is_transient
from handoff.ingest.bulk import Raced, store_mapped
from handoff.ingest.mapping import FrustrationReading, InvalidInput, Mapped, map_event
from handoff.lines import Frustration, Line
from handoff.live import Broadcaster
from handoff.models import Conversation, utc_now
from handoff.repositories import Conversations, Cursors, DeadLetters, History, Messages
from handoff.services import webhooks
from handoff.services.threads import AfterResolution, ThreadService
from handoff.services.views import message_event
from handoff.snooze import wake_values
from handoff.states import WITH_PEOPLE, Status

logger = logging.getLogger(__name__)

Event = dict[str, Any]


def _mapped(event: Event | Rejected) -> Mapped | Rejected | None:
    if isinstance(event, Rejected):
        return event
    try:
        return map_event(event)
    except InvalidInput as error:
        return Rejected.of_event(event, str(error))


class EventSink:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        threads: ThreadService | None = None,
    ) -> None:
        """`threads`: what a customer's line after a resolution does (reopen or a new
        conversation with the bot); without it the line is only stored."""
        self.sessions = sessions
        self.live = live
        self.threads = threads

    async def store(
        self,
        events: Sequence[Event | Rejected],
        cursor: tuple[str, str] | None = None,
        *,
        source: str = "direct",
    ) -> None:
        """Store a batch from `source` in order, setting aside what cannot be stored; raises
        only when the database fails (then nothing of the batch is stored). Callers that are
        not an event source (tests, benchmarks) may leave `source` out."""
        items = [(event, _mapped(event)) for event in events]
        try:
            published, after = await self._store_bulk(items, cursor, source)
        except Exception as error:
            if is_transient(error):
                raise
            logger.log(
                logging.INFO if isinstance(error, Raced) else logging.WARNING,
                "Event source %s: the database refused a batch (%s); storing it event by event",
                source,
                describe(error),
            )
            published, after = await self._store_isolated(items, cursor, source)
        await self._publish(published)
        if self.threads is not None:
            await self.threads.settle(after)

    async def retry(self, letter_id: int, payload: str) -> bool:
        """Map and store a dead letter's payload again; on success the letter is resolved in
        the same transaction (False: it was no longer open). Raises InvalidInput or the
        database's error when the event still cannot be stored."""
        try:
            event = json.loads(payload)
        except (ValueError, RecursionError) as error:
            raise InvalidInput("", f"not JSON ({error})") from None
        item = map_event(event)
        published: list[str] = []
        async with self.sessions.begin() as session:
            if item is not None and (message_id := await self._store_one(session, item)):
                published.append(message_id)
            resolved = await DeadLetters(session).settle(letter_id, "resolved")
        await self._publish(published)
        return resolved

    async def _store_bulk(
        self,
        items: list[tuple[Event | Rejected, Mapped | Rejected | None]],
        cursor: tuple[str, str] | None,
        source: str,
    ) -> tuple[list[str], AfterResolution]:
        """The whole batch in a few statements (`bulk.store_mapped`)."""
        async with self.sessions.begin() as session:
            letters = DeadLetters(session)
            for _, item in items:
                if isinstance(item, Rejected):
                    await self._set_aside(letters, source, item)
            mapped = [item for _, item in items if item and not isinstance(item, Rejected)]
            published = await store_mapped(session, mapped)
            await _with_people(session, published)
            after = await self._after_resolution(session, mapped)
            if cursor is not None:
                await Cursors(session).put(*cursor)
        return published, after

    async def _store_isolated(
        self,
        items: list[tuple[Event | Rejected, Mapped | Rejected | None]],
        cursor: tuple[str, str] | None,
        source: str,
    ) -> tuple[list[str], AfterResolution]:
        """The batch one event per savepoint: exactly the events the database refuses are set
        aside."""
        published: list[str] = []
        stored: list[Mapped] = []
        async with self.sessions.begin() as session:
            letters = DeadLetters(session)
            for event, item in items:
                if item is None:
                    continue
                if isinstance(item, Rejected):
                    await self._set_aside(letters, source, item)
                    continue
                try:
                    async with session.begin_nested():
                        message_id = await self._store_one(session, item)
                except Exception as error:
                    if is_transient(error):
                        raise
                    await self._set_aside(
                        letters, source, Rejected.of_event(event, describe(error))
                    )
                    continue
                stored.append(item)
                if message_id is not None:
                    published.append(message_id)
            after = await self._after_resolution(session, stored)
            if cursor is not None:
                await Cursors(session).put(*cursor)
        return published, after

    async def _after_resolution(
        self, session: AsyncSession, items: Sequence[Mapped]
    ) -> AfterResolution:
        """Customer lines of resolved conversations: reopen them now (this transaction) or
        restart them with the bot after the commit."""
        if self.threads is None:
            return AfterResolution()
        writers = {
            item.conversation_id
            for item in items
            if isinstance(item, Line) and item.author_type == "customer"
        }
        return await self.threads.after_customer_lines(session, writers)

    async def _set_aside(self, letters: DeadLetters, source: str, rejected: Rejected) -> None:
        await letters.put(source, rejected)
        logger.warning(
            "Event source %s: set aside a %s event of %s as a dead letter: %s",
            source,
            rejected.event_type or "malformed",
            rejected.conversation_id or "an unknown conversation",
            rejected.error,
        )

    async def _publish(self, published: list[str]) -> None:
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
        row = await _conversation(conversations, conversation_pk)
        values: dict[str, Any] = {}
        if channel and not row.channel:
            values["channel"] = channel
        if item.frustration:
            values.update(_merged(row, item.frustration))
        if values:
            await conversations.update_where(conversation_pk, **values)
        if Status(row.status) not in WITH_PEOPLE:
            return None
        await _with_people(session, [message_id])
        return message_id

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
        conversations = Conversations(session)
        row = await _conversation(conversations, conversation_pk)
        await conversations.update_where(conversation_pk, **_merged(row, item.frustration))


async def _with_people(session: AsyncSession, message_ids: list[str]) -> None:
    """What follows lines stored while people hold their conversation, in the same transaction:
    a customer's line wakes a snoozed conversation, and outbound webhooks get each line."""
    messages, conversations = Messages(session), Conversations(session)
    for message_id in message_ids:
        line = await messages.get(message_id)
        if line is None:  # stored in this transaction
            raise RuntimeError(f"line {message_id} vanished inside its transaction")
        row = await _conversation(conversations, line.conversation_id)
        if row.snoozed_at is not None and line.author_type == "customer":
            await conversations.update_where(row.id, **wake_values(row, utc_now()))
            History(session).record(row.id, "snooze_ended", note="the customer replied")
        await webhooks.record_message(session, row.id, message_id)


def _reading(score: float | None, signals: list[str]) -> Frustration | None:
    return None if score is None else Frustration(score, tuple(signals))


async def _conversation(conversations: Conversations, conversation_pk: str) -> Conversation:
    row = await conversations.get(conversation_pk)
    if row is None:  # ensured earlier in the same transaction
        raise RuntimeError(f"conversation {conversation_pk} vanished inside its transaction")
    return row


def _merged(row: Conversation, frustration: Frustration) -> dict[str, Any]:
    merged = frustration.merge(_reading(row.frustration_score, row.frustration_signals))
    return {"frustration_score": merged.score, "frustration_signals": list(merged.signals)}
