"""One transaction whose live events reach agents only after it commits.

Services write their changes and queue the websocket events that describe them on the same
`Work`; a rollback drops the events with the changes, so agents never see what did not happen,
and nothing is published while the transaction still holds its locks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.live import Broadcaster, Event
from handoff.services.views import load_conversation, message_event


class Work:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)

    async def announce(self, kind: str, conversation_pk: str) -> views.JSON:
        """Queue the conversation's view, as this transaction leaves it, as a `kind` event."""
        view = await load_conversation(self.session, conversation_pk)
        self.publish({"type": kind, "conversation": view})
        return view

    async def announce_message(self, message_id: str) -> None:
        self.publish(await message_event(self.session, message_id))


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], live: Broadcaster
) -> AsyncIterator[Work]:
    async with sessions.begin() as session:
        work = Work(session)
        yield work
    for event in work.events:
        await live.publish(event)
