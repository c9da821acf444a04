"""Conversation views loaded with what the JSON needs (owner name, last message, transcript)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from handoff import views
from handoff.errors import NotFound
from handoff.models import Conversation, utc_now
from handoff.repositories import Agents, Conversations, History, Messages


async def conversation_views(
    session: AsyncSession, rows: Sequence[Conversation]
) -> list[views.JSON]:
    names = await Agents(session).names(row.assigned_agent_id for row in rows)
    messages = Messages(session)
    latest = await messages.latest_of(row.id for row in rows)
    wrote = await messages.last_customer_at(row.id for row in rows)
    now = utc_now()
    return [
        views.conversation(
            row, names.get(row.assigned_agent_id or ""), latest.get(row.id), now, wrote.get(row.id)
        )
        for row in rows
    ]


async def load_row(session: AsyncSession, conversation_pk: str) -> Conversation:
    row = await Conversations(session).get(conversation_pk)
    if row is None:
        raise NotFound(f"No conversation {conversation_pk!r}.", "conversation_not_found")
    return row


async def load_conversation(session: AsyncSession, conversation_pk: str) -> views.JSON:
    return (await conversation_views(session, [await load_row(session, conversation_pk)]))[0]


async def load_detail(session: AsyncSession, conversation_pk: str) -> views.JSON:
    view = await load_conversation(session, conversation_pk)
    history = History(session)
    notes = await history.notes(conversation_pk)
    names = await Agents(session).names(note.agent_id for note in notes)
    view["messages"] = [views.message(row) for row in await Messages(session).of(conversation_pk)]
    view["notes"] = [views.note(row, names) for row in notes]
    return view


async def message_event(session: AsyncSession, message_id: str) -> views.JSON:
    """The `message.created` websocket event of a stored line."""
    message = await Messages(session).get(message_id)
    if message is None:
        raise NotFound(f"No message {message_id!r}.")
    return {
        "type": "message.created",
        "conversation": await load_conversation(session, message.conversation_id),
        "message": views.message(message),
    }
