"""What agents do with conversations: queue, claim, reply, notes, transfer, release, resolve,
return to bot. Every state change is one conditional UPDATE (status for claims, the version
counter otherwise), so concurrent agents and several service instances cannot both win."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.delivery import Delivery, DeliveryClient
from handoff.errors import Conflict, Forbidden, Invalid, Upstream
from handoff.ingest.mapping import Line, handoff_key
from handoff.live import Broadcaster
from handoff.models import Conversation, Note, new_id, utc_now
from handoff.notices import notice
from handoff.rasa_client import RasaClient, RasaError
from handoff.repositories import Agents, Conversations, History, Messages, QueueFilter, status_in
from handoff.roles import Role
from handoff.services import webhooks
from handoff.services.auth import Principal
from handoff.services.csat import CsatService
from handoff.services.sla_targets import MODES, default_first_response_minutes, load_targets
from handoff.services.views import (
    announce,
    conversation_views,
    load_detail,
    load_row,
    message_event,
)
from handoff.states import WITH_PEOPLE, Action, Status, allowed, transition

MAX_TEXT = 4000
WEBHOOK_EVENTS = {Action.RESOLVE: "conversation.resolved"}  # of `_simple`'s actions


def checked_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("text must be a non-empty string.", "invalid_text")
    if len(value) > MAX_TEXT:
        raise Invalid(f"text is longer than {MAX_TEXT} characters.", "text_too_long")
    return value


@dataclass(frozen=True)
class Transfer:
    agent_id: str | None = None
    team: str | None = None
    note: str | None = None


class ConversationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        delivery: DeliveryClient,
        rasa: RasaClient,
        brand: str = "Lumen Home",
        csat: CsatService | None = None,
    ) -> None:
        self.csat = csat
        self.sessions = sessions
        self.live = live
        self.delivery = delivery
        self.rasa = rasa
        self.brand = brand

    async def queue(self, where: QueueFilter) -> list[views.JSON]:
        async with self.sessions() as session:
            return await conversation_views(session, await Conversations(session).queue(where))

    async def detail(self, conversation_pk: str) -> views.JSON:
        async with self.sessions() as session:
            return await load_detail(session, conversation_pk)

    async def claim(self, conversation_pk: str, agent: Principal) -> views.JSON:
        step = transition(Action.CLAIM)
        async with self.sessions.begin() as session:
            won = await Conversations(session).update_where(
                conversation_pk,
                status_in(step.sources),
                status=step.target.value,
                assigned_agent_id=agent.id,
                assigned_at=utc_now(),
            )
            if not won:
                row = await load_row(session, conversation_pk)
                if row.status == Status.ASSIGNED.value:
                    owner = (await Agents(session).names([row.assigned_agent_id])).get(
                        row.assigned_agent_id or "", "another agent"
                    )
                    raise Conflict(f"Already claimed by {owner}.", "already_claimed")
                raise _wrong_state(row, Action.CLAIM)
            History(session).record(
                conversation_pk, Action.CLAIM.value, to_agent_id=agent.id, by_agent_id=agent.id
            )
            await webhooks.record(session, "conversation.assigned", conversation_pk)
        view = await self._announce("conversation.claimed", conversation_pk)
        await self._tell_customer(conversation_pk, "joined", agent=agent.name)
        return view

    async def reply(self, conversation_pk: str, agent: Principal, text: Any) -> views.JSON:
        """Store the agent's line, then deliver it; the answer carries the delivery status."""
        text = checked_text(text)
        message_id = new_id()
        async with self.sessions.begin() as session:
            conversations = Conversations(session)
            row = await load_row(session, conversation_pk)
            if row.status != Status.ASSIGNED.value:
                raise Conflict(
                    f"The conversation is {row.status}; claim it before replying.",
                    "not_assigned",
                )
            if row.assigned_agent_id != agent.id:
                raise Forbidden("Only the agent who owns the conversation can reply.", "not_owner")
            now = utc_now()
            owned = await conversations.update_where(
                conversation_pk,
                Conversation.version == row.version,
                first_response_at=row.first_response_at or now,
            )
            if not owned:
                raise Conflict("The conversation changed meanwhile; reload it.", "changed")
            line = Line(
                conversation_id=row.conversation_id,
                dedupe_key=handoff_key(message_id),
                author_type="agent",
                author_name=agent.name,
                text=text,
                created_at=now,
            )
            await Messages(session).add_line(
                conversation_pk,
                line,
                id=message_id,
                author_agent_id=agent.id,
                delivery_status="pending",
            )
            await webhooks.record_message(session, conversation_pk, message_id)
            delivery = Delivery(
                row.conversation_id, row.channel, message_id, "agent", agent.name, text
            )
        return await self._deliver(message_id, delivery)

    async def tell_customer(self, conversation_pk: str, name: str, *, agent: str) -> None:
        """Send the notice `name` now (a shift handover whose agent chose to tell customers)."""
        await self._tell_customer(conversation_pk, name, agent=agent)

    async def _tell_customer(self, conversation_pk: str, name: str, *, agent: str) -> None:
        """The system notice `name` (bot/texts.yml) for the customer, in their language: stored,
        shown live, delivered like an agent's line."""
        message_id = new_id()
        async with self.sessions.begin() as session:
            row = await load_row(session, conversation_pk)
            text = notice(name, row.customer_language, agent=agent, brand=self.brand)
            line = Line(
                conversation_id=row.conversation_id,
                dedupe_key=handoff_key(message_id),
                author_type="system",
                author_name=None,
                text=text,
                created_at=utc_now(),
            )
            await Messages(session).add_line(
                conversation_pk, line, id=message_id, delivery_status="pending"
            )
            await webhooks.record_message(session, conversation_pk, message_id)
            delivery = Delivery(row.conversation_id, row.channel, message_id, "system", None, text)
        await self._deliver(message_id, delivery)

    async def _deliver(self, message_id: str, delivery: Delivery) -> views.JSON:
        """Publish the stored line, deliver it, and record how that went on the line."""
        await self._publish_message(message_id)
        result = await self.delivery.deliver(delivery)
        async with self.sessions.begin() as session:
            await Messages(session).update(
                message_id,
                delivery_status=result.status,
                delivery_error=result.error,
                channel_message_id=result.channel_message_id,
            )
            stored = await Messages(session).get(message_id)
            assert stored is not None
            return views.message(stored)

    async def add_note(self, conversation_pk: str, agent: Principal, text: Any) -> views.JSON:
        text = checked_text(text)
        async with self.sessions.begin() as session:
            await load_row(session, conversation_pk)
            note = Note(conversation_id=conversation_pk, agent_id=agent.id, text=text)
            session.add(note)
            await session.flush()
            view = views.note(note, {agent.id: agent.name})
            await webhooks.record(session, "note.created", conversation_pk, note=view)
            return view

    async def transfer(
        self, conversation_pk: str, actor: Principal, transfer: Transfer
    ) -> views.JSON:
        if (transfer.agent_id is None) == (transfer.team is None):
            raise Invalid("Give either agent_id or team.", "agent_or_team")
        note = checked_text(transfer.note) if transfer.note is not None else None
        async with self.sessions.begin() as session:
            agents = Agents(session)
            if transfer.agent_id is not None:
                target = await agents.get(transfer.agent_id)
                if target is None or not target.active:
                    raise Invalid(f"No active agent {transfer.agent_id!r}.", "unknown_agent")
                action = Action.TRANSFER_AGENT
                values: dict[str, Any] = {
                    "assigned_agent_id": target.id,
                    "assigned_at": utc_now(),
                }
            else:
                if await agents.team(str(transfer.team)) is None:
                    raise Invalid(f"No team {transfer.team!r}.", "unknown_team")
                action = Action.TRANSFER_TEAM
                values = {"team": transfer.team, "assigned_agent_id": None, "assigned_at": None}
            row = await self._change(session, conversation_pk, actor, action, **values)
            History(session).record(
                conversation_pk,
                action.value,
                from_agent_id=row.assigned_agent_id,
                to_agent_id=transfer.agent_id,
                by_agent_id=actor.id,
                team=transfer.team,
                note=note,
            )
            if note:
                session.add(Note(conversation_id=conversation_pk, agent_id=actor.id, text=note))
            previous = row.assigned_agent_id
            names = await agents.names([i for i in (previous, transfer.agent_id) if i])
            moved = {
                "from_agent": {"id": previous, "name": names.get(previous)} if previous else None,
                "to_agent": (
                    {"id": transfer.agent_id, "name": names.get(transfer.agent_id)}
                    if transfer.agent_id
                    else None
                ),
                "team": transfer.team,
                "note": note,
            }
            await webhooks.record(
                session, "conversation.transferred", conversation_pk, transfer=moved
            )
        view = await self._announce("conversation.updated", conversation_pk)
        if transfer.agent_id is not None:
            await self._tell_customer(conversation_pk, "joined", agent=names[transfer.agent_id])
        elif previous in names:
            await self._tell_customer(conversation_pk, "left", agent=names[previous])
        return view

    async def switch_mode(
        self, conversation_pk: str, actor: Principal, mode: Any, tell_customer: bool = True
    ) -> views.JSON:
        """Move a queued or assigned conversation between live chat (sync) and answer later
        (async). Until the first response, the SLA target follows the mode: an async target
        counts from the original queueing, a sync one from now (the customer waits now)."""
        if mode not in MODES:
            raise Invalid("mode must be sync or async.", "invalid_mode")
        async with self.sessions.begin() as session:
            row = await load_row(session, conversation_pk)
            if Status(row.status) not in WITH_PEOPLE:
                raise Conflict(
                    f"Cannot switch the mode of a conversation that is {row.status}.",
                    "invalid_state",
                )
            check_owner(row, actor)
            if row.mode == mode:
                raise Conflict(f"The conversation is already {mode}.", "same_mode")
            values: dict[str, Any] = {"mode": mode}
            if row.first_response_at is None:  # a supervisor's target, else the default
                now = utc_now()
                promise = default_first_response_minutes(mode, row.priority_name)
                target = (await load_targets(session)).for_episode(
                    row.priority_level, mode, promise
                )
                seconds = target.first_response_seconds
                start = (row.queued_at or now) if mode == "async" else now
                values.update(
                    first_response_minutes=None if seconds is None else math.ceil(seconds / 60),
                    sla_due_at=None if seconds is None else start + timedelta(seconds=seconds),
                    sla_warned_at=None,
                    sla_breached_at=None,
                )
            changed = await Conversations(session).update_where(
                conversation_pk, Conversation.version == row.version, **values
            )
            if not changed:
                raise Conflict("The conversation changed meanwhile; reload it.", "changed")
            History(session).record(
                conversation_pk,
                f"mode_{mode}",
                from_agent_id=row.assigned_agent_id,
                by_agent_id=actor.id,
                note=f"{row.mode or 'no mode'} → {mode}",
            )
        view = await self._announce("conversation.updated", conversation_pk)
        if tell_customer:
            await self._tell_customer(conversation_pk, f"mode_{mode}", agent=actor.name)
        return view

    async def release(self, conversation_pk: str, actor: Principal) -> views.JSON:
        return await self._simple(
            conversation_pk,
            actor,
            Action.RELEASE,
            "left",
            assigned_agent_id=None,
            assigned_at=None,
        )

    async def resolve(
        self, conversation_pk: str, actor: Principal, survey: bool = True
    ) -> views.JSON:
        """Resolved by a person; the CSAT survey decision is recorded with it (`survey=False`:
        the agent resolved without survey)."""

        async def decide_survey(session: AsyncSession, row: Conversation) -> None:
            if self.csat is not None:
                await self.csat.on_resolved(session, row, by_person=True, survey=survey)

        return await self._simple(
            conversation_pk,
            actor,
            Action.RESOLVE,
            "closed",
            after=decide_survey,
            resolved_at=utc_now(),
        )

    async def return_to_bot(self, conversation_pk: str, actor: Principal) -> views.JSON:
        """Resume the bot in Rasa first: if Rasa refuses, nothing changes here."""
        async with self.sessions() as session:
            row = await load_row(session, conversation_pk)
            _check(row, actor, Action.RETURN_TO_BOT)
        try:
            await self.rasa.return_to_bot(row.conversation_id)
        except RasaError as error:
            raise Upstream(str(error), "rasa_unavailable") from None
        return await self._simple(  # the bot itself tells the customer it is back
            conversation_pk,
            actor,
            Action.RETURN_TO_BOT,
            None,
            returned_to_bot_at=utc_now(),
            assigned_agent_id=None,
        )

    async def _simple(
        self,
        conversation_pk: str,
        actor: Principal,
        action: Action,
        notice_name: str | None,
        *,
        after: Callable[[AsyncSession, Conversation], Awaitable[None]] | None = None,
        **values: Any,
    ) -> views.JSON:
        """Apply `action` (and `after`, in the same transaction, with the row as it was); if
        someone owned the conversation, tell the customer the notice `notice_name` with the
        owner's name."""
        async with self.sessions.begin() as session:
            row = await self._change(session, conversation_pk, actor, action, **values)
            if after is not None:
                await after(session, row)
            History(session).record(
                conversation_pk,
                action.value,
                from_agent_id=row.assigned_agent_id,
                by_agent_id=actor.id,
            )
            owner = row.assigned_agent_id
            names = await Agents(session).names([owner]) if owner else {}
            if (event_type := WEBHOOK_EVENTS.get(action)) is not None:
                await webhooks.record(session, event_type, conversation_pk)
        view = await self._announce("conversation.updated", conversation_pk)
        if notice_name is not None and owner in names:
            await self._tell_customer(conversation_pk, notice_name, agent=names[owner])
        return view

    async def _change(
        self,
        session: AsyncSession,
        conversation_pk: str,
        actor: Principal,
        action: Action,
        **values: Any,
    ) -> Conversation:
        """Check and apply `action`; the row as it was before."""
        row = await load_row(session, conversation_pk)
        _check(row, actor, action)
        step = transition(action)
        changed = await Conversations(session).update_where(
            conversation_pk,
            Conversation.version == row.version,
            status=step.target.value,
            **values,
        )
        if not changed:
            raise Conflict("The conversation changed meanwhile; reload it.", "changed")
        return row

    async def _announce(self, kind: str, conversation_pk: str) -> views.JSON:
        return await announce(self.sessions, self.live, kind, conversation_pk)

    async def _publish_message(self, message_id: str) -> None:
        async with self.sessions() as session:
            event = await message_event(session, message_id)
        await self.live.publish(event)


def _check(row: Conversation, actor: Principal, action: Action) -> None:
    """409 when the state does not allow `action`; 403 when the actor is neither the owner nor a
    supervisor."""
    if not allowed(action, Status(row.status)):
        raise _wrong_state(row, action)
    check_owner(row, actor)


def check_owner(row: Conversation, actor: Principal) -> None:
    """403 unless the actor owns the conversation or is a supervisor."""
    if row.assigned_agent_id != actor.id and not actor.role.at_least(Role.SUPERVISOR):
        raise Forbidden(
            "Only the agent who owns the conversation or a supervisor can do this.", "not_owner"
        )


def _wrong_state(row: Conversation, action: Action) -> Conflict:
    verb = action.value.replace("_", " ")
    return Conflict(f"Cannot {verb} a conversation that is {row.status}.", "invalid_state")
