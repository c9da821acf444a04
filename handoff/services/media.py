"""Which file an agent may open: only media a line of that conversation carries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import NotFound
from handoff.media import MediaClient
from handoff.repositories import Conversations, Messages


class MediaService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: MediaClient) -> None:
        self.sessions = sessions
        self.client = client

    async def channel_of(self, conversation_pk: str, media_id: str) -> str:
        """The channel to fetch `media_id` from; NotFound unless a line of the conversation
        carries it (so the route cannot fetch arbitrary ids through the connector)."""
        async with self.sessions() as session:
            row = await Conversations(session).get(conversation_pk)
            if row is None:
                raise NotFound(f"No conversation {conversation_pk!r}.", "conversation_not_found")
            lines = await Messages(session).of(conversation_pk)
        carried = any(
            isinstance(attachment, dict) and attachment.get("media_id") == media_id
            for line in lines
            for attachment in line.attachments
        )
        if not carried or not row.channel:
            raise NotFound("No such file in this conversation.", "media_not_found")
        return row.channel
