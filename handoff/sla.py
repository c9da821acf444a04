"""SLA monitor: `sla.warning` when a first response is due within SLA_WARNING_MINUTES,
`sla.breached` when it is overdue; each once per conversation (and per handoff), decided by a
conditional UPDATE so several instances never announce the same one twice. The app runs it
under a job lease (`handoff.periodic.run_leased`), so one instance at a time checks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.live import Broadcaster
from handoff.models import Conversation, utc_now
from handoff.repositories import Conversations
from handoff.services import webhooks
from handoff.services.views import load_conversation

logger = logging.getLogger(__name__)


async def check_sla(
    sessions: async_sessionmaker[AsyncSession],
    live: Broadcaster,
    warning: timedelta,
    now: datetime | None = None,
) -> list[str]:
    """Flag and announce what is due at `now`; the event types sent, in order."""
    now = now or utc_now()
    announced: list[tuple[str, str]] = []
    async with sessions.begin() as session:
        conversations = Conversations(session)
        for row in await conversations.due_for_sla(now + warning):
            if row.sla_due_at is not None and row.sla_due_at <= now:
                kind = "sla.breached"
                flagged = await conversations.update_where(
                    row.id,
                    Conversation.sla_breached_at.is_(None),
                    sla_breached_at=now,
                    sla_warned_at=row.sla_warned_at or now,
                )
                if flagged:
                    await webhooks.record(session, "sla.breached", row.id)
            elif row.sla_warned_at is None:
                kind = "sla.warning"
                flagged = await conversations.update_where(
                    row.id, Conversation.sla_warned_at.is_(None), sla_warned_at=now
                )
            else:
                continue
            if flagged:
                announced.append((kind, row.id))
    for kind, conversation_pk in announced:
        async with sessions() as session:
            view = await load_conversation(session, conversation_pk)
        await live.publish({"type": kind, "conversation": view})
    return [kind for kind, _ in announced]
