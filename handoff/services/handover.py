"""Shift handover: an agent hands every conversation they own to a named teammate or back to the
queue in one action, with a note the next owner sees at the top of each transcript. Customers
are told nothing unless the agent asks for it (then they get the usual joined/left notice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.delivery import Delivery
from handoff.errors import Invalid
from handoff.live import Broadcaster
from handoff.models import Conversation, HandoverNote, utc_now
from handoff.queue_repository import QueueStore
from handoff.repositories import Agents, Conversations, History, status_in
from handoff.services.auth import Principal
from handoff.services.conversations import ConversationService, checked_text
from handoff.services.requeue import requeue
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import load_conversation, load_row
from handoff.states import Action, transition


def note_view(row: HandoverNote, names: dict[str, str]) -> views.JSON:
    def who(agent_id: str | None) -> views.JSON | None:
        return {"id": agent_id, "name": names.get(agent_id)} if agent_id else None

    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "text": row.text,
        "from_agent": who(row.from_agent_id),
        "to_agent": who(row.to_agent_id),
        "created_at": views.iso(row.created_at),
    }


class HandoverService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        conversations: ConversationService,
        on_free: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.conversations = conversations
        self.on_free = on_free

    async def hand_over(
        self, actor: Principal, to_agent_id: Any, note: Any, tell_customer: Any = False
    ) -> views.JSON:
        text = checked_text(note)
        if to_agent_id is not None and not isinstance(to_agent_id, str):
            raise Invalid("to_agent_id must be an agent's id or null (the queue).", "unknown_agent")
        if not isinstance(tell_customer, bool):
            raise Invalid("tell_customer must be true or false.", "invalid_tell_customer")
        if to_agent_id == actor.id:
            raise Invalid("Hand over to a teammate, not to yourself.", "handover_to_self")
        moved: list[str] = []
        notices: list[Delivery] = []
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            agents = Agents(session)
            if to_agent_id is not None:
                target = await agents.get(to_agent_id)
                if target is None or not target.active:
                    raise Invalid(f"No active agent {to_agent_id!r}.", "unknown_agent")
            names = await agents.names([actor.id, to_agent_id])
            for row in await QueueStore(session).owned_by(actor.id):
                if to_agent_id is None:
                    done = await requeue(
                        session, row, action="handover", note=None, by_agent_id=actor.id
                    )
                else:
                    done = await self._reassign(session, row, actor.id, to_agent_id)
                if not done:
                    continue
                session.add(
                    HandoverNote(
                        conversation_id=row.id,
                        from_agent_id=actor.id,
                        to_agent_id=to_agent_id,
                        text=text,
                    )
                )
                moved.append(row.id)
                event: views.JSON = {"conversation": await load_conversation(session, row.id)}
                if to_agent_id is None:
                    event.update(type="conversation.requeued", reason="handover")
                else:
                    event.update(type="conversation.assigned", agent_id=to_agent_id)
                work.publish(event)
                if tell_customer:
                    notice, name = (
                        ("left", actor.id) if to_agent_id is None else ("joined", to_agent_id)
                    )
                    notices.append(
                        await self.conversations.store_notice(
                            work, row.id, notice, agent=names[name]
                        )
                    )
        for delivery in notices:
            await self.conversations.deliver(delivery)
        if moved and to_agent_id is None:
            self.on_free()
        to = {"id": to_agent_id, "name": names.get(to_agent_id)} if to_agent_id else None
        return {"conversations": moved, "to_agent": to}

    async def _reassign(
        self, session: AsyncSession, row: Conversation, from_agent_id: str, to_agent_id: str
    ) -> bool:
        step = transition(Action.TRANSFER_AGENT)
        done = await Conversations(session).update_where(
            row.id,
            status_in(step.sources),
            Conversation.assigned_agent_id == from_agent_id,
            status=step.target.value,
            assigned_agent_id=to_agent_id,
            assigned_at=utc_now(),
        )
        if done:
            History(session).record(
                row.id,
                "handover",
                from_agent_id=from_agent_id,
                to_agent_id=to_agent_id,
                by_agent_id=from_agent_id,
                team=row.team,
            )
        return done

    async def notes(self, conversation_pk: str) -> list[views.JSON]:
        """The conversation's handover notes, newest first."""
        async with self.sessions() as session:
            await load_row(session, conversation_pk)
            query = (
                select(HandoverNote)
                .where(HandoverNote.conversation_id == conversation_pk)
                .order_by(HandoverNote.created_at.desc(), HandoverNote.id)
            )
            rows = list(await session.scalars(query))
            names = await Agents(session).names(
                agent_id for row in rows for agent_id in (row.from_agent_id, row.to_agent_id)
            )
        return [note_view(row, names) for row in rows]
