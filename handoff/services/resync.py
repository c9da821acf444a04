"""What a reconnecting client missed: a conversation's lines after its `seq` cursor.

Live events carry each line's `seq` (`message.created`); a client remembers the highest it saw
per conversation and, after a websocket drop (or a `resync` event), asks for the lines after it.
Lines commit in `seq` order (`Messages.add_line`), so nothing below the cursor can still appear.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.repositories import Messages
from handoff.services.views import load_row

PAGE_LIMIT = 500


async def lines_after(
    sessions: async_sessionmaker[AsyncSession], conversation_pk: str, after_seq: int
) -> views.JSON:
    """Up to PAGE_LIMIT lines after `after_seq`, in `seq` order, and the conversation's last
    `seq`; `more` says the client should ask again from the last line's `seq`."""
    async with sessions() as session:
        row = await load_row(session, conversation_pk)
        lines = await Messages(session).after(conversation_pk, after_seq, PAGE_LIMIT)
    return {
        "conversation_id": conversation_pk,
        "last_seq": row.last_seq,
        "more": len(lines) == PAGE_LIMIT,
        "messages": [views.message(line) for line in lines],
    }
