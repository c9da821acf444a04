"""Online, away and idle time from the presence history (docs/kpis.md, "Presence time"). An
agent is in the presence of their last change (none: offline); idle is online time during which
the agent held no conversation in an `agent` segment (waiting on the customer and snoozed are
not work). Everything is clipped to the slice and to now.

Per agent (`presence_time`, the agent table) busy means holding any conversation; the
summary's team figures (`idle_by_mode`) add up the agents of the slice, and for `sync` and
`async` only conversations of that mode make an agent busy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import AgentTeam, Conversation, KpiSegment, PresenceChange
from handoff.queue_repository import AWAY, ONLINE
from handoff.services.segments import AGENT

if TYPE_CHECKING:
    from handoff.services.kpis import Slice

Span = tuple[datetime, datetime]
MODES = ("sync", "async")
GROUPS = {"sync": {"sync"}, "async": {"async"}, "all": set(MODES)}  # the summary's groups


def presence_spans(
    changes: Sequence[tuple[str, datetime]], start: datetime, stop: datetime
) -> dict[str, list[Span]]:
    """Per presence, its spans within [start, stop) from the changes in time order (the first
    may be before `start`: the presence the agent was in when the slice began)."""
    spans: dict[str, list[Span]] = defaultdict(list)
    for (presence, at), (_, until) in zip(changes, [*changes[1:], ("", stop)], strict=True):
        begin, end = max(at, start), min(until, stop)
        if begin < end:
            spans[presence].append((begin, end))
    return spans


def uncovered(spans: Iterable[Span], busy: Sequence[Span]) -> float:
    """Seconds of `spans` outside every span of `busy`."""
    total = 0.0
    ordered = sorted(busy)
    for begin, end in spans:
        cursor = begin
        for busy_begin, busy_end in ordered:
            if busy_end <= cursor or busy_begin >= end:
                continue
            if busy_begin > cursor:
                total += (busy_begin - cursor).total_seconds()
            cursor = max(cursor, busy_end)
        if cursor < end:
            total += (end - cursor).total_seconds()
    return total


def _seconds(spans: Iterable[Span]) -> float:
    return sum((end - begin).total_seconds() for begin, end in spans)


@dataclass(frozen=True)
class AgentTime:
    """One agent's presence spans in the slice and the conversations held, by mode."""

    spans: dict[str, list[Span]]
    held: dict[str, list[Span]]  # mode -> spans in an `agent` segment

    def idle(self, modes: Iterable[str]) -> float:
        busy = [span for mode in modes for span in self.held.get(mode, [])]
        return uncovered(self.spans[ONLINE], busy)


async def agent_times(
    session: AsyncSession, where: Slice, now: datetime, members_only: bool = False
) -> dict[str, AgentTime]:
    """Per agent id with a presence change in force during the slice; the slice's agent only,
    and with `members_only` the members of the slice's team only."""
    stop = min(where.end, now)
    if stop <= where.start:
        return {}
    before = (
        select(PresenceChange.agent_id, func.max(PresenceChange.at).label("at"))
        .where(PresenceChange.at < where.start)
        .group_by(PresenceChange.agent_id)
        .subquery()
    )
    query = (
        select(PresenceChange.agent_id, PresenceChange.presence, PresenceChange.at)
        .outerjoin(
            before,
            (before.c.agent_id == PresenceChange.agent_id) & (before.c.at == PresenceChange.at),
        )
        .where(
            or_(
                (PresenceChange.at >= where.start) & (PresenceChange.at < stop),
                before.c.at.is_not(None),
            )
        )
        .order_by(PresenceChange.agent_id, PresenceChange.at, PresenceChange.id)
    )
    if where.agent_id is not None:
        query = query.where(PresenceChange.agent_id == where.agent_id)
    if members_only and where.team is not None:
        query = query.where(PresenceChange.agent_id.in_(_members(where.team)))
    changes: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for agent_id, presence, at in (await session.execute(query)).tuples():
        changes[agent_id].append((presence, at))

    def held(ended: Any) -> Select[Any]:
        return (
            select(
                KpiSegment.agent_id, KpiSegment.started_at, KpiSegment.ended_at, Conversation.mode
            )
            .join(Conversation, Conversation.id == KpiSegment.conversation_pk)
            .where(
                KpiSegment.kind == AGENT,
                KpiSegment.agent_id.in_(list(changes)),
                KpiSegment.started_at < stop,
                ended,
            )
        )

    # two ranges of the (agent, end) index; one OR of both is a scan of every segment
    overlapping = union_all(
        held(KpiSegment.ended_at > where.start), held(KpiSegment.ended_at.is_(None))
    )
    busy: dict[str, dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
    for agent, started, ended, mode in (await session.execute(overlapping)).tuples():
        busy[str(agent)][mode or "sync"].append((started, ended or stop))
    return {
        agent_id: AgentTime(presence_spans(history, where.start, stop), busy[agent_id])
        for agent_id, history in changes.items()
    }


async def presence_time(
    session: AsyncSession, where: Slice, now: datetime
) -> dict[str, dict[str, Any]]:
    """Per agent id: `online_seconds`, `away_seconds`, `idle_seconds` in the slice."""
    return {
        agent_id: {
            "online_seconds": round(_seconds(time.spans[ONLINE])),
            "away_seconds": round(_seconds(time.spans[AWAY])),
            "idle_seconds": round(time.idle(MODES)),
        }
        for agent_id, time in (await agent_times(session, where, now)).items()
    }


async def idle_by_mode(
    session: AsyncSession, where: Slice, now: datetime
) -> dict[str, dict[str, Any]]:
    """Per summary group: `agent_idle_seconds` summed over the slice's agents (the team's
    members with `team`) and `agent_idle_rate` of their online time; neither for a group the
    slice's `mode` leaves out, or when no agent was online."""
    times = (await agent_times(session, where, now, members_only=True)).values()
    online = sum(_seconds(time.spans[ONLINE]) for time in times)
    figures = {}
    for group, modes in GROUPS.items():
        counted = modes & ({where.mode} if where.mode else set(MODES))
        idle = sum(time.idle(counted) for time in times) if counted and online else None
        figures[group] = {
            "agent_idle_seconds": round(idle) if idle is not None else None,
            "agent_idle_rate": round(idle / online, 4) if idle is not None else None,
        }
    return figures


def _members(team: str) -> Select[tuple[str]]:
    return select(AgentTeam.agent_id).where(AgentTeam.team_id == team)


async def team_members(session: AsyncSession, team: str) -> set[str]:
    return set(await session.scalars(_members(team)))


def no_presence() -> dict[str, Any]:
    return {"online_seconds": 0, "away_seconds": 0, "idle_seconds": 0}
