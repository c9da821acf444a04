"""How long a conversation lives (handoff/threads.yml, docs/handoff-service.md).

- **Reopen or new**: a customer writing after a resolution reopens the conversation when the
  line came within its topic's reopen window (the answers to its satisfaction survey are not
  writing again: `CsatService.answers_until`): to its last agent if that agent is online, else
  to the queue at its original priority (history `reopen`, counted in `reopen_count`, so the
  KPIs see a reopen). Later, the bot starts a new conversation with them: Rasa is resumed
  first (if it refuses, nothing changes here and the next line tries again), then the
  conversation is back with the bot (history `new_with_bot`). Both keep the one transcript, so
  the agent who gets it sees everything before.
- **Thread lifetime**: an open, awake conversation whose customer has not answered an agent for
  its topic's and mode's silence limit is resolved automatically (history `auto_resolve`,
  `resolution = automatic`; the CSAT policy never surveys it), with a notice to the customer
  where the channel's window is open (web chat; WhatsApp's and Messenger's 24 hours are over
  by then, and the human-agent tag is for a person's replies). The timer runs under a job
  lease; each resolution is a conditional UPDATE on the version, so a reply meanwhile wins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.channel_windows import OPEN, window_state
from handoff.live import Broadcaster
from handoff.models import Agent, Conversation, QueueAgent, utc_now
from handoff.queue_repository import ONLINE
from handoff.rasa_client import RasaClient, RasaError
from handoff.repositories import Conversations, History, Messages, status_in
from handoff.services import webhooks
from handoff.services.conversations import ConversationService
from handoff.services.csat import CsatService
from handoff.services.unit_of_work import unit_of_work
from handoff.states import Action, Status, transition
from handoff.thread_policy import ThreadPolicy

logger = logging.getLogger(__name__)


@dataclass
class AfterResolution:
    """What customer lines on resolved conversations led to, in the ingest's transaction."""

    reopened: list[str] = field(default_factory=list)
    to_restart: list[tuple[str, datetime]] = field(default_factory=list)  # (pk, resolved_at)


class ThreadService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        policy: ThreadPolicy,
        conversations: ConversationService,
        rasa: RasaClient | None,
        csat: CsatService | None = None,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.policy = policy
        self.conversations = conversations
        self.rasa = rasa
        self.csat = csat

    # --- reopen or new ------------------------------------------------------------------------

    async def after_customer_lines(
        self, session: AsyncSession, rasa_ids: Iterable[str]
    ) -> AfterResolution:
        """Reopen the resolved conversations among `rasa_ids` whose customer wrote within the
        window (in the caller's transaction); the others are left for `settle` to restart."""
        outcome = AfterResolution()
        ids = sorted(set(rasa_ids))
        if not ids:
            return outcome
        query = select(Conversation).where(
            Conversation.conversation_id.in_(ids), Conversation.status == Status.RESOLVED.value
        )
        for row in (await session.scalars(query)).all():
            if row.resolved_at is None:
                continue
            since = row.resolved_at
            if self.csat is not None:  # the survey's answers are not the customer writing again
                answered = await self.csat.answers_until(session, row.id, row.resolved_at)
                since = max(since, answered or since)
            line = await Messages(session).customer_since(row.id, since)
            if line is None:
                continue
            if line.created_at - row.resolved_at <= self.policy.reopen_window(row.triage_topic):
                if await self._reopen(session, row, line.created_at):
                    outcome.reopened.append(row.id)
            else:
                outcome.to_restart.append((row.id, row.resolved_at))
        return outcome

    async def settle(self, outcome: AfterResolution) -> None:
        """After the ingest's commit: tell agents about reopens, restart the others with the
        bot."""
        async with unit_of_work(self.sessions, self.live) as work:  # read, published after
            for conversation_pk in outcome.reopened:
                await work.announce("conversation.reopened", conversation_pk)
        for conversation_pk, resolved_at in outcome.to_restart:
            await self._new_with_bot(conversation_pk, resolved_at)

    async def _reopen(self, session: AsyncSession, row: Conversation, wrote_at: datetime) -> bool:
        now = utc_now()
        owner = await self._online_owner(session, row.assigned_agent_id)
        action = Action.REOPEN_TO_OWNER if owner else Action.REOPEN
        step = transition(action)
        queued_at = min(wrote_at, now)
        due = row.first_response_minutes
        changed = await Conversations(session).update_where(
            row.id,
            status_in(step.sources),
            Conversation.resolved_at == row.resolved_at,
            status=step.target.value,
            queued_at=queued_at,
            sla_due_at=None if due is None else queued_at + timedelta(minutes=due),
            sla_warned_at=None,
            sla_breached_at=None,
            first_response_at=None,
            resolved_at=None,
            resolution=None,
            assigned_agent_id=owner,
            assigned_at=now if owner else None,
            reopen_count=Conversation.reopen_count + 1,
            reopened_at=now,
        )
        if not changed:
            return False
        History(session).record(
            row.id,
            Action.REOPEN.value,
            to_agent_id=owner,
            team=row.team,
            note="the customer wrote again after the resolution",
        )
        await webhooks.record(session, "conversation.reopened", row.id)
        return True

    async def _online_owner(self, session: AsyncSession, agent_id: str | None) -> str | None:
        if agent_id is None:
            return None
        query = (
            select(Agent.id)
            .join(QueueAgent, QueueAgent.agent_id == Agent.id)
            .where(Agent.id == agent_id, Agent.active.is_(True), QueueAgent.presence == ONLINE)
        )
        return await session.scalar(query)

    async def _new_with_bot(self, conversation_pk: str, resolved_at: datetime) -> None:
        async with self.sessions() as session:
            row = await Conversations(session).get(conversation_pk)
        if row is None or row.status != Status.RESOLVED.value or self.rasa is None:
            return
        try:
            await self.rasa.return_to_bot(row.conversation_id)
        except RasaError as error:
            logger.warning(
                "Conversation %s: the customer wrote after the reopen window but Rasa could not"
                " be resumed (%s); the next line tries again",
                conversation_pk,
                error,
            )
            return
        step = transition(Action.NEW_WITH_BOT)
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            changed = await Conversations(session).update_where(
                conversation_pk,
                status_in(step.sources),
                Conversation.resolved_at == resolved_at,
                status=step.target.value,
                returned_to_bot_at=utc_now(),
                assigned_agent_id=None,
                assigned_at=None,
            )
            if changed:
                History(session).record(
                    conversation_pk,
                    Action.NEW_WITH_BOT.value,
                    note="the customer wrote after the reopen window",
                )
                await work.announce("conversation.updated", conversation_pk)

    # --- thread lifetime ----------------------------------------------------------------------

    async def close_silent(self, now: datetime | None = None) -> list[str]:
        """Resolve every conversation whose customer was silent past its limit; their ids."""
        now = now or utc_now()
        shortest = self.policy.shortest_silence()
        if shortest is None:
            return []
        async with self.sessions() as session:
            candidates = await Conversations(session).awaiting_customer(now - shortest)
        closed = []
        for row, answered_at in candidates:
            limit = self.policy.silence_limit(row.triage_topic, row.mode)
            if limit is None or answered_at > now - limit:
                continue
            if await self._auto_resolve(row, limit.days, now):
                closed.append(row.id)
        return closed

    async def _auto_resolve(self, row: Conversation, days: int, now: datetime) -> bool:
        step = transition(Action.AUTO_RESOLVE)
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            changed = await Conversations(session).update_where(
                row.id,
                Conversation.version == row.version,
                status_in(step.sources),
                status=step.target.value,
                resolved_at=now,
                resolution="automatic",
            )
            if not changed:
                return False  # the customer (or an agent) acted meanwhile
            if self.csat is not None:
                await self.csat.on_resolved(session, row, by_person=False, survey=True)
            History(session).record(
                row.id,
                Action.AUTO_RESOLVE.value,
                from_agent_id=row.assigned_agent_id,
                note=f"the customer did not answer for {days} days",
            )
            await webhooks.record(session, "conversation.resolved", row.id)
            last = (await Messages(session).last_customer_at([row.id])).get(row.id)
            await work.announce("conversation.updated", row.id)
        if window_state(row.channel, last, now).state == OPEN:  # no tag or template for this
            await self.conversations.tell_customer(row.id, "auto_closed", days=days)
        return True
