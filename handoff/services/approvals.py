"""Approval of replies by agents in training (docs/agent-queue.md).

A trainee's reply is stored as a pending reply, not as a line: the customer sees nothing and
the SLA keeps running (no first response yet). A supervisor approves it as written, edits and
approves it (then it is delivered as the trainee's line, through the same path as any reply),
or returns it with a comment. Each decision is a conditional UPDATE from `pending`, so two
supervisors never send one reply twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.db import affected_rows
from handoff.errors import Conflict, Forbidden, NotFound, ServiceError, found
from handoff.live import Broadcaster
from handoff.models import Conversation, PendingReply, utc_now
from handoff.repositories import Agents
from handoff.roles import Role
from handoff.services.auth import Principal
from handoff.services.conversations import ConversationService, checked_text
from handoff.services.views import conversation_views, load_row
from handoff.states import Status

PENDING, APPROVED, RETURNED = "pending", "approved", "returned"


def reply_view(row: PendingReply, names: dict[str, str]) -> views.JSON:
    def who(agent_id: str | None) -> views.JSON | None:
        return {"id": agent_id, "name": names.get(agent_id)} if agent_id else None

    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "agent": who(row.agent_id),
        "text": row.text,
        "status": row.status,
        "comment": row.comment,
        "reviewed_by": who(row.reviewed_by_agent_id),
        "message_id": row.message_id,
        "created_at": views.iso(row.created_at),
        "reviewed_at": views.iso(row.reviewed_at),
    }


class ApprovalService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        conversations: ConversationService,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.conversations = conversations

    async def submit(self, conversation_pk: str, agent: Principal, text: Any) -> views.JSON:
        text = checked_text(text)
        async with self.sessions.begin() as session:
            row = await load_row(session, conversation_pk)
            if row.status != Status.ASSIGNED.value:
                raise Conflict(
                    f"The conversation is {row.status}; claim it before replying.", "not_assigned"
                )
            if row.assigned_agent_id != agent.id:
                raise Forbidden("Only the agent who owns the conversation can reply.", "not_owner")
            reply = PendingReply(conversation_id=conversation_pk, agent_id=agent.id, text=text)
            session.add(reply)
            await session.flush()
        return await self._announce("reply.pending", reply.id)

    async def waiting(self, status: str = PENDING) -> list[views.JSON]:
        """Replies with `status`, oldest first, each with its conversation."""
        async with self.sessions() as session:
            query = (
                select(PendingReply)
                .where(PendingReply.status == status)
                .order_by(PendingReply.created_at, PendingReply.id)
            )
            rows = list(await session.scalars(query))
            names = await self._names(session, rows)
            ids = sorted({row.conversation_id for row in rows})
            found = await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
            summaries = {
                view["id"]: view for view in await conversation_views(session, list(found))
            }
        return [
            {**reply_view(row, names), "conversation": summaries.get(row.conversation_id)}
            for row in rows
        ]

    async def of_conversation(self, conversation_pk: str) -> list[views.JSON]:
        """The conversation's replies that were not sent: pending and returned ones."""
        async with self.sessions() as session:
            await load_row(session, conversation_pk)
            query = (
                select(PendingReply)
                .where(
                    PendingReply.conversation_id == conversation_pk,
                    PendingReply.status.in_([PENDING, RETURNED]),
                )
                .order_by(PendingReply.created_at, PendingReply.id)
            )
            rows = list(await session.scalars(query))
            names = await self._names(session, rows)
        return [reply_view(row, names) for row in rows]

    async def approve(self, reply_id: str, reviewer: Principal, text: Any = None) -> views.JSON:
        """Send the reply (edited to `text` if given) as the trainee's line."""
        edited = checked_text(text) if text is not None else None
        async with self.sessions.begin() as session:
            reply = await self._decide(session, reply_id, reviewer, APPROVED)
            trainee = await Agents(session).get(reply.agent_id or "")
            if trainee is None:
                raise Conflict("The reply's author no longer exists.", "author_gone")
            teams = (await Agents(session).teams_of([trainee.id]))[trainee.id]
        author = Principal(
            trainee.id, trainee.name, trainee.email, Role(trainee.role), tuple(teams), ""
        )
        try:
            message = await self.conversations.reply(
                reply.conversation_id, author, edited or reply.text
            )
        except ServiceError:
            async with self.sessions.begin() as session:  # not sent: it stays pending
                await self._set(session, reply_id, APPROVED, status=PENDING, reviewed_at=None)
            raise
        async with self.sessions.begin() as session:
            await self._set(session, reply_id, APPROVED, message_id=message["id"])
        return {**await self._announce("reply.approved", reply_id), "message": message}

    async def return_to_author(
        self, reply_id: str, reviewer: Principal, comment: Any
    ) -> views.JSON:
        comment = checked_text(comment)
        async with self.sessions.begin() as session:
            await self._decide(session, reply_id, reviewer, RETURNED, comment=comment)
        return await self._announce("reply.returned", reply_id)

    async def _decide(
        self, session: AsyncSession, reply_id: str, reviewer: Principal, status: str, **values: Any
    ) -> PendingReply:
        reply = await session.get(PendingReply, reply_id)
        if reply is None:
            raise NotFound(f"No pending reply {reply_id!r}.", "reply_not_found")
        decided = await self._set(
            session,
            reply_id,
            PENDING,
            status=status,
            reviewed_by_agent_id=reviewer.id,
            reviewed_at=utc_now(),
            **values,
        )
        if not decided:
            raise Conflict(f"This reply was already {reply.status}.", "already_reviewed")
        return reply

    async def _set(self, session: AsyncSession, reply_id: str, current: str, **values: Any) -> bool:
        statement = (
            update(PendingReply)
            .where(PendingReply.id == reply_id, PendingReply.status == current)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return await affected_rows(session, statement) == 1

    async def _names(self, session: AsyncSession, rows: list[PendingReply]) -> dict[str, str]:
        return await Agents(session).names(
            agent_id for row in rows for agent_id in (row.agent_id, row.reviewed_by_agent_id)
        )

    async def _announce(self, kind: str, reply_id: str) -> views.JSON:
        async with self.sessions() as session:
            reply = found(
                await session.get(PendingReply, reply_id, populate_existing=True), "pending reply"
            )
            view = reply_view(reply, await self._names(session, [reply]))
        await self.live.publish({"type": kind, "reply": view})
        return view
