"""Snooze: an agent puts a conversation they own aside until a time, or until the customer
replies, with an optional reminder note. When the time comes it wakes with the note on top of
its transcript, back with its owner, or in the queue if the owner is no longer active; a
customer's reply wakes it at once (handoff/services/sink.py). The wake-up runs on a timer and is
a conditional UPDATE, so several service instances wake each conversation once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Conflict, Invalid
from handoff.live import Broadcaster
from handoff.models import Conversation, Note, utc_now
from handoff.repositories import Agents, Conversations, History
from handoff.services.auth import Principal
from handoff.services.conversations import check_owner, checked_text
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import load_row
from handoff.snooze import MAX_SNOOZE, wake_values
from handoff.states import Status


def parse_until(value: Any, now: datetime) -> datetime | None:
    """None (until the customer replies) or an aware time in the future, within MAX_SNOOZE."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("until must be an ISO 8601 time or null.", "invalid_until")
    try:
        until = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Invalid("until must be an ISO 8601 time or null.", "invalid_until") from error
    if until.tzinfo is None:
        raise Invalid("until needs a time zone (e.g. 2026-12-03T09:00:00Z).", "invalid_until")
    if until <= now:
        raise Invalid("until must be in the future.", "invalid_until")
    if until - now > MAX_SNOOZE:
        raise Invalid(f"A snooze lasts at most {MAX_SNOOZE.days} days.", "invalid_until")
    return until


class SnoozeService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], live: Broadcaster) -> None:
        self.sessions = sessions
        self.live = live

    async def snooze(
        self, conversation_pk: str, actor: Principal, until: Any, note: Any
    ) -> views.JSON:
        now = utc_now()
        until_at = parse_until(until, now)
        reminder = checked_text(note) if note is not None else None
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await load_row(session, conversation_pk)
            if row.status != Status.ASSIGNED.value:
                raise Conflict(
                    f"Only an assigned conversation can be snoozed; this one is {row.status}.",
                    "invalid_state",
                )
            check_owner(row, actor)
            values: dict[str, Any] = {
                "snoozed_at": row.snoozed_at or now,  # a new time for a snoozed one keeps its start
                "snoozed_until": until_at,
                "snooze_note": reminder,
                "snoozed_by_agent_id": actor.id,
            }
            await self._update(session, row, **values)
            History(session).record(conversation_pk, "snooze", by_agent_id=actor.id, note=reminder)
            return await work.announce("conversation.updated", conversation_pk)

    async def unsnooze(self, conversation_pk: str, actor: Principal) -> views.JSON:
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await load_row(session, conversation_pk)
            if row.snoozed_at is None:
                raise Conflict("The conversation is not snoozed.", "not_snoozed")
            check_owner(row, actor)
            await self._update(session, row, **wake_values(row, utc_now()))
            History(session).record(conversation_pk, "unsnooze", by_agent_id=actor.id)
            return await work.announce("conversation.updated", conversation_pk)

    async def wake_due(self, now: datetime | None = None) -> list[str]:
        """Wake every conversation whose snooze time has come; their ids."""
        now = now or utc_now()
        async with self.sessions() as session:
            due = await Conversations(session).snoozed_until(now)
        return [row.id for row in due if await self._wake(row.id, now)]

    async def _wake(self, conversation_pk: str, now: datetime) -> bool:
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await load_row(session, conversation_pk)
            if row.snoozed_until is None or row.snoozed_until > now:
                return False  # woken meanwhile (a reply, another instance)
            values = wake_values(row, now)
            owner = await Agents(session).get(row.assigned_agent_id or "")
            back_to_queue = owner is None or not owner.active
            if back_to_queue:
                values.update(status=Status.QUEUED.value, assigned_agent_id=None, assigned_at=None)
            woke = await Conversations(session).update_where(
                conversation_pk, Conversation.snoozed_until == row.snoozed_until, **values
            )
            if not woke:
                return False
            text = "Snooze ended" + (f": {row.snooze_note}" if row.snooze_note else ".")
            session.add(
                Note(
                    conversation_id=conversation_pk,
                    agent_id=row.snoozed_by_agent_id,
                    text=text,
                    created_at=now,
                )
            )
            History(session).record(  # a release when it goes back to the queue
                conversation_pk,
                "release" if back_to_queue else "snooze_ended",
                from_agent_id=row.assigned_agent_id,
                note="snooze ended; the owner is no longer active" if back_to_queue else None,
            )
            await work.announce("conversation.woken", conversation_pk)
        return True

    async def _update(self, session: AsyncSession, row: Conversation, **values: Any) -> None:
        changed = await Conversations(session).update_where(
            row.id, Conversation.version == row.version, **values
        )
        if not changed:
            raise Conflict("The conversation changed meanwhile; reload it.", "changed")
