"""Automatic assignment for teams in `auto` mode (docs/agent-queue.md).

A round hands out the team's queued conversations in queue order (priority, then SLA due time,
then waiting time) to online team members whose skills fit the triage and who have free
capacity of the conversation's kind (live chats: `max_sync`, answer-later: `max_async`), the
least loaded first, then the one idle longest. Each assignment is one transaction: it first
takes the agent's queue row (`QueueStore.lock_online_agent`), counts their load from the
conversations, and moves the conversation with a conditional UPDATE from `queued`. Two
instances running rounds at once can therefore neither give one conversation to two agents
nor fill one agent past their capacity.

Rounds run when a handoff arrives, when an agent comes online or capacity frees up (the
service's own live events wake the loop), and on a timer. The timer also puts back in the
queue what an agent was given automatically and has not answered in `unanswered_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Invalid, NotFound
from handoff.live import Broadcaster
from handoff.models import Conversation, QueueAgent, utc_now
from handoff.periodic import wait_until_set
from handoff.queue_repository import AUTO, TEAM_MODES, Load, QueueStore, slot
from handoff.queue_settings import QueueSettings
from handoff.repositories import Agents, Conversations, History, status_in
from handoff.services.presence import PresenceService
from handoff.services.requeue import requeue
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import load_conversation
from handoff.states import Action, transition

logger = logging.getLogger(__name__)

BATCH = 500  # queued conversations looked at per pass of a round
# Live events after which a round may find work: something queued, freed or came online.
WAKE_ON = frozenset(
    {
        "handoff.created",
        "handoff.updated",
        "conversation.updated",
        "conversation.requeued",
        "agent.presence",
    }
)


def needs(row: Conversation) -> dict[str, str]:
    """What a conversation asks of an agent's skills, from its triage."""
    wanted = {"language": (row.customer_language or "").split("-")[0].lower()}
    if row.triage_topic:
        wanted["topic"] = row.triage_topic.lower()
    if row.triage_device_name:
        wanted["device"] = row.triage_device_name.lower()
    return wanted


def fits(skills: Sequence[Any], wanted: Mapping[str, str]) -> bool:
    """Whether an agent with `skills` (`kind:value`) in the team can take it. A kind the agent
    lists restricts them to its values (a device skill matches when the triage's device name
    contains it: `device:thermostat` fits "Hallway thermostat"); a kind they list nothing of
    does not restrict them."""
    listed: dict[str, set[str]] = defaultdict(set)
    for skill in skills:
        kind, _, value = str(skill).partition(":")
        listed[kind].add(value.lower())
    for kind, values in listed.items():
        if (want := wanted.get(kind)) is None:
            continue
        ok = any(value in want for value in values) if kind == "device" else want in values
        if not ok:
            return False
    return True


@dataclass
class Candidate:
    agent_id: str
    skills: Sequence[Any]
    queue: QueueAgent
    load: Load

    def free(self, kind: str) -> bool:
        capacity = self.queue.max_async if kind == "async" else self.queue.max_sync
        return self.load.of(kind) < capacity

    def order(self) -> tuple[int, datetime]:
        idle_since = self.queue.last_assigned_at or datetime.min.replace(tzinfo=utc_now().tzinfo)
        return self.load.total, idle_since


@dataclass(frozen=True)
class Assigned:
    conversation_id: str
    agent_id: str


class AssignmentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        settings: QueueSettings,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.settings = settings
        self._wake = asyncio.Event()
        self._round = asyncio.Lock()  # one round at a time in this instance

    def wake(self) -> None:
        self._wake.set()

    async def wait_for_work(self, seconds: float) -> None:
        """Until `wake()` is called or `seconds` passed."""
        await wait_until_set(self._wake, seconds)
        self._wake.clear()

    async def team_modes(self) -> list[views.JSON]:
        async with self.sessions() as session:
            teams = await Agents(session).all_teams()
            modes = await QueueStore(session).team_modes()
        return [{**views.team(team), "mode": modes.get(team.id, "pull")} for team in teams]

    async def set_team_mode(self, team_id: str, mode: Any, by_agent_id: str | None) -> views.JSON:
        if mode not in TEAM_MODES:
            raise Invalid(f"mode must be one of {', '.join(TEAM_MODES)}.", "invalid_mode")
        async with self.sessions.begin() as session:
            team = await Agents(session).team(team_id)
            if team is None:
                raise NotFound(f"No team {team_id!r}.", "unknown_team")
            await QueueStore(session).set_team_mode(team_id, mode, by_agent_id)
            view = {**views.team(team), "mode": mode}
        await self.live.publish({"type": "team.mode", "team": view})
        self.wake()
        return view

    async def auto_teams(self, session: AsyncSession) -> list[str]:
        modes = await QueueStore(session).team_modes()
        return sorted(team for team, mode in modes.items() if mode == AUTO)

    async def assign_round(self) -> list[Assigned]:
        """Hand out what can be handed out now; the assignments made, in order."""
        async with self._round:
            made: list[Assigned] = []
            while True:
                batch = await self._pass()
                made += batch
                if len(batch) == 0:
                    return made

    async def _pass(self) -> list[Assigned]:
        async with self.sessions() as session:
            teams = await self.auto_teams(session)
            if not teams:
                return []
            store = QueueStore(session)
            queued = await store.queued(teams, BATCH)
            members = await store.online_members(teams)
            loads = await store.loads({membership.agent_id for membership, _ in members})
            ignored = await store.timed_out_agents(queued)
        by_team: dict[str, list[Candidate]] = defaultdict(list)
        shared: dict[str, Load] = {}  # one Load per agent, whatever their teams
        for membership, queue in members:
            load = shared.setdefault(membership.agent_id, loads.get(membership.agent_id, Load()))
            by_team[membership.team_id].append(
                Candidate(membership.agent_id, membership.skills or [], queue, load)
            )
        made: list[Assigned] = []
        for row in queued:
            kind = slot(row.mode)
            wanted = needs(row)
            options = [
                candidate
                for candidate in by_team.get(row.team or "", [])
                if candidate.free(kind)
                and fits(candidate.skills, wanted)
                and candidate.agent_id not in ignored.get(row.id, ())
            ]
            for candidate in sorted(options, key=Candidate.order):
                outcome = await self._assign(row, candidate, kind)
                if outcome == "assigned":
                    candidate.load.add(kind)
                    candidate.queue.last_assigned_at = utc_now()
                    made.append(Assigned(row.id, candidate.agent_id))
                    break
                if outcome == "gone":  # claimed, moved or resolved meanwhile
                    break
                # the agent filled up or went away meanwhile: they get nothing more this pass
                for team_candidates in by_team.values():
                    if candidate in team_candidates:
                        team_candidates.remove(candidate)
        return made

    async def _assign(self, row: Conversation, candidate: Candidate, kind: str) -> str:
        """One assignment in its own transaction: `assigned`, `gone` (the conversation is no
        longer queued in that team) or `busy` (the agent is full or no longer online)."""
        step = transition(Action.CLAIM)
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            store = QueueStore(session)
            if not await store.lock_online_agent(candidate.agent_id):
                return "busy"
            agent = await store.agent(candidate.agent_id)
            load = (await store.loads([candidate.agent_id])).get(candidate.agent_id, Load())
            if agent is None or load.of(kind) >= (
                agent.max_async if kind == "async" else agent.max_sync
            ):
                candidate.load.sync, candidate.load.async_ = load.sync, load.async_
                return "busy"
            now = utc_now()
            won = await Conversations(session).update_where(
                row.id,
                status_in(step.sources),
                Conversation.team == row.team,
                status=step.target.value,
                assigned_agent_id=candidate.agent_id,
                assigned_at=now,
            )
            if not won:  # (the agent's row was only touched: committing that is harmless)
                return "gone"
            await store.update_agent(candidate.agent_id, last_assigned_at=now)
            History(session).record(
                row.id, "auto_assign", to_agent_id=candidate.agent_id, team=row.team
            )
            work.publish(
                {
                    "type": "conversation.assigned",
                    "agent_id": candidate.agent_id,
                    "conversation": await load_conversation(session, row.id),
                }
            )
        return "assigned"

    async def expire_unanswered(self, now: datetime | None = None) -> list[str]:
        """Put back in the queue what was assigned in an `auto` team and not answered within
        `unanswered_seconds`; the conversations' ids. The history row (`assignment_timeout`)
        names nobody as the one who moved it."""
        if self.settings.unanswered_seconds <= 0:
            return []
        now = now or utc_now()
        limit = timedelta(seconds=self.settings.unanswered_seconds)
        moved: list[str] = []
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            teams = await self.auto_teams(session)
            if not teams:
                return []
            rows = await QueueStore(session).unanswered(teams, now - limit)
            names = await Agents(session).names(row.assigned_agent_id for row in rows)
            for row in rows:
                who = names.get(row.assigned_agent_id or "", "the agent")
                note = (
                    f"Not answered by {who} within {int(limit.total_seconds())} s of being"
                    " assigned; back in the queue in its place."
                )
                if await requeue(
                    session, row, action="assignment_timeout", note=note, by_agent_id=None
                ):
                    moved.append(row.id)
                    view = await load_conversation(session, row.id)
                    work.publish(
                        {
                            "type": "conversation.requeued",
                            "reason": "unanswered",
                            "conversation": view,
                        }
                    )
        return moved


async def run_queue(
    assignment: AssignmentService, presence: PresenceService, live: Broadcaster
) -> None:
    """The instance's queue loop: an assignment round on every wake-up and at least every
    `assign_every_seconds`, with the presence sweep and the unanswered timeouts before it at
    most that often (a burst of wake-ups runs rounds only)."""
    settings = assignment.settings
    watcher = asyncio.ensure_future(_watch(live, assignment))
    last_heartbeat = last_housekeeping = -float("inf")
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                if loop.time() - last_housekeeping >= settings.assign_every_seconds:
                    if loop.time() - last_heartbeat >= settings.heartbeat_seconds:
                        await presence.heartbeat()
                        last_heartbeat = loop.time()
                    await presence.sweep()
                    await assignment.expire_unanswered()
                    last_housekeeping = loop.time()
                await assignment.assign_round()
            except Exception:
                logger.exception("queue round failed; the next one tries again")
            await assignment.wait_for_work(settings.assign_every_seconds)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _watch(live: Broadcaster, assignment: AssignmentService) -> None:
    """Wake the loop on the live events that can make work; subscribe again if dropped."""
    while True:
        subscription = live.subscribe()
        try:
            async for event in subscription:
                if event.get("type") in WAKE_ON:
                    assignment.wake()
        finally:
            subscription.close()
        await asyncio.sleep(0.1)
