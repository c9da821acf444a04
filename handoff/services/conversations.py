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

from contracts.channel_windows import closed_reason, window_state
from contracts.delivery import Template
from contracts.transcript import handoff_key
from handoff import views
from handoff.delivery import Delivery, DeliveryClient
from handoff.errors import Conflict, Forbidden, Invalid, Upstream, found
from handoff.lines import Line
from handoff.live import Broadcaster
from handoff.models import Conversation, Note, new_id, utc_now
from handoff.notices import notice
from handoff.rasa_client import RasaClient, RasaError
from handoff.repositories import (
    Agents,
    Conversations,
    History,
    Messages,
    QueueKey,
    queue_key,
    status_in,
)
from handoff.roles import Role
from handoff.services import webhooks
from handoff.services.auth import Principal
from handoff.services.csat import CsatService
from handoff.services.sla_targets import MODES, default_first_response_minutes, load_targets
from handoff.services.unit_of_work import Work, unit_of_work
from handoff.services.views import conversation_views, load_detail, load_row
from handoff.states import WITH_PEOPLE, Action, QueueFilter, Status, allowed, transition

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

    async def queue(
        self, where: QueueFilter, limit: int, after: QueueKey | None = None
    ) -> views.JSON:
        """A page of the queue in its order; `next` continues after its last conversation."""
        async with self.sessions() as session:
            rows = await Conversations(session).queue(where, limit + 1, after)
            found = await conversation_views(session, rows[:limit])
        last = queue_key(rows[limit - 1]) if len(rows) > limit else None
        return {"conversations": found, "next": last}

    async def detail(self, conversation_pk: str) -> views.JSON:
        async with self.sessions() as session:
            return await load_detail(session, conversation_pk)

    async def claim(self, conversation_pk: str, agent: Principal) -> views.JSON:
        """Claim, join notice and their events in one transaction: a crash cannot keep the one
        without the other."""
        step = transition(Action.CLAIM)
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
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
            view = await work.announce("conversation.claimed", conversation_pk)
            joined = await self.store_notice(work, conversation_pk, "joined", agent=agent.name)
        await self.deliver(joined)
        return view

    async def reply(
        self, conversation_pk: str, agent: Principal, text: Any, template: Template | None = None
    ) -> views.JSON:
        """Store the agent's line, then deliver it; the answer carries the delivery status.

        Free text only while the channel's window allows it (409 `window_closed` saying why);
        Messenger replies after 24 hours carry the human-agent tag. `template`: send this
        approved template instead (its filled text is `text`), which any window allows."""
        text = checked_text(text)
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await load_row(session, conversation_pk)
            if row.status != Status.ASSIGNED.value:
                raise Conflict(
                    f"The conversation is {row.status}; claim it before replying.",
                    "not_assigned",
                )
            if row.assigned_agent_id != agent.id:
                raise Forbidden("Only the agent who owns the conversation can reply.", "not_owner")
            delivery = await self._store_agent_line(work, row, agent, text, template)
        return await self.deliver(delivery)

    async def reply_as_supervisor(
        self, conversation_pk: str, supervisor: Principal, text: Any
    ) -> views.JSON:
        """A supervisor's line to a conversation with people, whoever owns it (the crisis
        tools' one reply to all); the same window rules as an owner's reply."""
        text = checked_text(text)
        async with unit_of_work(self.sessions, self.live) as work:
            row = await load_row(work.session, conversation_pk)
            if Status(row.status) not in WITH_PEOPLE:
                raise Conflict(f"The conversation is {row.status}.", "invalid_state")
            delivery = await self._store_agent_line(work, row, supervisor, text, None)
        return await self.deliver(delivery)

    async def _store_agent_line(
        self,
        work: Work,
        row: Conversation,
        agent: Principal,
        text: str,
        template: Template | None,
    ) -> Delivery:
        """Check the window, store the line (pending) with the first response; its delivery."""
        session = work.session
        now = utc_now()
        wrote = (await Messages(session).last_customer_at([row.id])).get(row.id)
        window = window_state(row.channel, wrote, now)
        if template is None and not window.free_text:
            raise Conflict(closed_reason(row.channel, wrote, now), "window_closed")
        owned = await Conversations(session).update_where(
            row.id,
            Conversation.version == row.version,
            first_response_at=row.first_response_at or now,
        )
        if not owned:
            raise Conflict("The conversation changed meanwhile; reload it.", "changed")
        message_id = new_id()
        line = Line(
            conversation_id=row.conversation_id,
            dedupe_key=handoff_key(message_id),
            author_type="agent",
            author_name=agent.name,
            text=text,
            created_at=now,
        )
        await Messages(session).add_line(
            row.id, line, id=message_id, author_agent_id=agent.id, delivery_status="pending"
        )
        await webhooks.record_message(session, row.id, message_id)
        await work.announce_message(message_id)
        return Delivery(
            row.conversation_id,
            row.channel,
            message_id,
            "agent",
            agent.name,
            text,
            tag=None if template else window.tag,
            template=template,
        )

    async def tell_customer(self, conversation_pk: str, name: str, **values: Any) -> None:
        """Send the notice `name` now, in a transaction of its own (an automatic resolution)."""
        async with unit_of_work(self.sessions, self.live) as work:
            delivery = await self.store_notice(work, conversation_pk, name, **values)
        await self.deliver(delivery)

    async def send_template(
        self, conversation_pk: str, text: str, template: Template
    ) -> views.JSON:
        """A system line sent as the approved channel `template` (which any window allows; its
        text as the customer reads it is `text`), in a transaction of its own, then delivered;
        the line with its delivery status."""
        async with unit_of_work(self.sessions, self.live) as work:
            row = await load_row(work.session, conversation_pk)
            delivery = await self._store_system_line(work, row, text, template)
        return await self.deliver(delivery)

    async def store_notice(
        self, work: Work, conversation_pk: str, name: str, **values: Any
    ) -> Delivery:
        """The system notice `name` (bot/texts.yml) for the customer, in their language, its
        placeholders filled from `values` and the brand, stored in `work`'s transaction and
        shown live after it; the caller delivers it like an agent's line once it committed."""
        row = await load_row(work.session, conversation_pk)
        text = notice(name, row.customer_language, brand=self.brand, **values)
        return await self._store_system_line(work, row, text)

    async def _store_system_line(
        self, work: Work, row: Conversation, text: str, template: Template | None = None
    ) -> Delivery:
        message_id = new_id()
        line = Line(
            conversation_id=row.conversation_id,
            dedupe_key=handoff_key(message_id),
            author_type="system",
            author_name=None,
            text=text,
            created_at=utc_now(),
        )
        await Messages(work.session).add_line(
            row.id, line, id=message_id, delivery_status="pending"
        )
        await webhooks.record_message(work.session, row.id, message_id)
        await work.announce_message(message_id)
        return Delivery(
            row.conversation_id, row.channel, message_id, "system", None, text, template=template
        )

    async def deliver(self, delivery: Delivery) -> views.JSON:
        """Deliver a committed line and record how that went on it."""
        result = await self.delivery.deliver(delivery)
        async with self.sessions.begin() as session:
            messages = Messages(session)
            await messages.update(
                delivery.message_id,
                delivery_status=result.status,
                delivery_error=result.error,
                channel_message_id=result.channel_message_id,
            )
            return views.message(found(await messages.get(delivery.message_id), "transcript line"))

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
        told: Delivery | None = None
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
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
            view = await work.announce("conversation.updated", conversation_pk)
            if transfer.agent_id is not None:
                joined = names[transfer.agent_id]
                told = await self.store_notice(work, conversation_pk, "joined", agent=joined)
            elif previous in names:
                told = await self.store_notice(work, conversation_pk, "left", agent=names[previous])
        if told is not None:
            await self.deliver(told)
        return view

    async def switch_mode(
        self, conversation_pk: str, actor: Principal, mode: Any, tell_customer: bool = True
    ) -> views.JSON:
        """Move a queued or assigned conversation between live chat (sync) and answer later
        (async). Until the first response, the SLA target follows the mode: an async target
        counts from the original queueing, a sync one from now (the customer waits now)."""
        if mode not in MODES:
            raise Invalid("mode must be sync or async.", "invalid_mode")
        told: Delivery | None = None
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
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
            view = await work.announce("conversation.updated", conversation_pk)
            if tell_customer:
                told = await self.store_notice(
                    work, conversation_pk, f"mode_{mode}", agent=actor.name
                )
        if told is not None:
            await self.deliver(told)
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
        self,
        conversation_pk: str,
        actor: Principal,
        survey: bool = True,
        version: int | None = None,
    ) -> views.JSON:
        """Resolved by a person; the CSAT survey decision is recorded with it (`survey=False`:
        the agent resolved without survey). With `version` (the one the caller saw), a
        conversation changed since is refused (409 `changed`)."""

        async def decide_survey(session: AsyncSession, row: Conversation) -> None:
            if self.csat is not None:
                await self.csat.on_resolved(session, row, by_person=True, survey=survey)

        return await self._simple(
            conversation_pk,
            actor,
            Action.RESOLVE,
            "closed",
            after=decide_survey,
            version=version,
            resolved_at=utc_now(),
            resolution="person",
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
        version: int | None = None,
        **values: Any,
    ) -> views.JSON:
        """Apply `action` (and `after`, in the same transaction, with the row as it was); if
        someone owned the conversation, tell the customer the notice `notice_name` with the
        owner's name."""
        told: Delivery | None = None
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await self._change(
                session, conversation_pk, actor, action, version=version, **values
            )
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
            view = await work.announce("conversation.updated", conversation_pk)
            if notice_name is not None and owner in names:
                told = await self.store_notice(
                    work, conversation_pk, notice_name, agent=names[owner]
                )
        if told is not None:
            await self.deliver(told)
        return view

    async def _change(
        self,
        session: AsyncSession,
        conversation_pk: str,
        actor: Principal,
        action: Action,
        version: int | None = None,
        **values: Any,
    ) -> Conversation:
        """Check and apply `action` (on `version` of the row, if given); the row as it was."""
        row = await load_row(session, conversation_pk)
        _check(row, actor, action)
        step = transition(action)
        stale = version is not None and version != row.version
        if stale or not await Conversations(session).update_where(
            conversation_pk,
            Conversation.version == row.version,
            status=step.target.value,
            **values,
        ):
            raise Conflict("The conversation changed meanwhile; reload it.", "changed")
        return row


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
