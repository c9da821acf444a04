"""KPI facts and their aggregates (definitions: docs/kpis.md).

The refresher recomputes the facts of every conversation that changed since its last round
(`conversations.updated_at`, bumped by every state change and agent reply) and of every
conversation still with people (their clocks run), from the store's own rows, with
`handoff.services.segments`. It deletes and rewrites a conversation's facts in one transaction,
so a round can be repeated, and several instances can run it (the last writer wins with the
same result). The queries aggregate the facts with indexed range scans on the start times.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, and_, case, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.models import (
    AgentSession,
    Assignment,
    Conversation,
    CsatSurvey,
    KpiAgentWork,
    KpiBotContact,
    KpiEpisode,
    KpiSegment,
    Message,
    utc_now,
)
from handoff.queue_repository import AWAY, ONLINE, QueueStore
from handoff.repositories import Agents, Cursors
from handoff.services import segments as seg
from handoff.services.business_calendar import BusinessCalendar
from handoff.services.csat_kpis import agent_satisfaction, no_satisfaction, satisfaction_series
from handoff.services.presence_kpis import idle_by_mode, no_presence, presence_time, team_members
from handoff.services.sla_targets import BREACHED, MET, SlaClock, Targets, load_targets
from handoff.states import WITH_PEOPLE

logger = logging.getLogger(__name__)

CURSOR = "kpis.refresh"
OVERLAP = timedelta(minutes=2)  # rows stamped just before the last round but committed after
BATCH = 500


class KpiRefresher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: BusinessCalendar | None = None,
        batch: int = BATCH,
    ) -> None:
        self.sessions = sessions
        self.calendar = calendar
        self.batch = batch

    async def refresh(self, now: datetime | None = None) -> int:
        """One round; how many conversations were recomputed."""
        now = now or utc_now()
        async with self.sessions() as session:
            position = await Cursors(session).get(CURSOR)
            since = datetime.fromisoformat(position) - OVERLAP if position else None
            query = select(Conversation.id).order_by(Conversation.id)
            if since is not None:
                active = [status.value for status in WITH_PEOPLE]
                query = query.where(
                    or_(Conversation.updated_at >= since, Conversation.status.in_(active))
                )
            ids = list((await session.scalars(query)).all())
        for start in range(0, len(ids), self.batch):
            await self.recompute(ids[start : start + self.batch], now)
        async with self.sessions.begin() as session:
            await Cursors(session).put(CURSOR, now.isoformat())
        return len(ids)

    async def recompute(self, conversation_pks: Sequence[str], now: datetime) -> None:
        async with self.sessions.begin() as session:
            loaded = await load_conversations(session, conversation_pks)
            targets = await load_targets(session)
            for table in (KpiAgentWork, KpiEpisode, KpiSegment, KpiBotContact):
                await session.execute(
                    delete(table).where(table.conversation_pk.in_(conversation_pks))
                )
            episodes: list[dict[str, Any]] = []
            works: list[list[dict[str, Any]]] = []
            segment_rows: list[dict[str, Any]] = []
            contact_rows: list[dict[str, Any]] = []
            for item in loaded:
                row, breakdown = item.row, item.breakdown(now, self.calendar)
                slices = {
                    "channel": row.channel,
                    "topic": row.triage_topic,
                    "priority_level": row.priority_level,
                    "mode": row.mode,
                }
                for episode in breakdown.episodes:
                    clock = item.clock(episode, targets, self.calendar)
                    episodes.append(_episode_row(row.id, episode, clock, slices, now))
                    works.append(
                        [
                            _work_row(row.id, episode.seq, work, episode.team, slices)
                            for work in episode.agents.values()
                        ]
                    )
                segment_rows.extend(_segment_row(row.id, piece) for piece in breakdown.segments)
                contact_rows.extend(
                    {
                        "conversation_pk": row.id,
                        "started_at": contact.started_at,
                        "channel": row.channel,
                        "topic": row.triage_topic,
                        "handed_off": contact.handed_off,
                    }
                    for contact in breakdown.bot_contacts
                )
            for table, rows in (
                (KpiEpisode, episodes),
                (KpiAgentWork, [work for group in works for work in group]),
                (KpiSegment, segment_rows),
                (KpiBotContact, contact_rows),
            ):
                if rows:  # Core executemany: no ORM bookkeeping for derived rows
                    await session.execute(cast(Table, table.__table__).insert(), rows)


@dataclass(frozen=True)
class Loaded:
    """One conversation's row, history and lines, ready to be cut into segments."""

    row: Conversation
    changes: list[seg.Change]
    lines: list[seg.Line]

    def breakdown(self, now: datetime, calendar: BusinessCalendar | None) -> seg.Breakdown:
        row = self.row
        facts = seg.Facts(
            row.created_at,
            row.channel,
            row.triage_topic,
            row.priority_level,
            row.mode,
            row.queued_at,
        )
        hours = calendar.schedule_for(row.triage_topic).open_seconds if calendar else None
        return seg.segment(facts, self.changes, self.lines, now, hours)

    def clock(
        self, episode: seg.Episode, targets: Targets, calendar: BusinessCalendar | None
    ) -> SlaClock:
        row = self.row
        target = targets.for_episode(row.priority_level, row.mode, row.first_response_minutes)
        return SlaClock(episode, target, calendar, row.triage_topic)


async def load_conversations(session: AsyncSession, pks: Sequence[str]) -> list[Loaded]:
    rows = (await session.scalars(select(Conversation).where(Conversation.id.in_(pks)))).all()
    changes = await _changes(session, pks)
    lines = await _lines(session, pks)
    return [Loaded(row, changes.get(row.id, []), lines.get(row.id, [])) for row in rows]


async def _changes(session: AsyncSession, pks: Sequence[str]) -> dict[str, list[seg.Change]]:
    query = (
        select(
            Assignment.conversation_id,
            Assignment.at,
            Assignment.action,
            Assignment.to_agent_id,
            Assignment.by_agent_id,
            Assignment.team,
        )
        .where(Assignment.conversation_id.in_(pks))
        .order_by(Assignment.conversation_id, Assignment.id)
    )
    grouped: dict[str, list[seg.Change]] = defaultdict(list)
    for pk, at, action, to_agent, by_agent, team in (await session.execute(query)).tuples():
        grouped[pk].append(seg.Change(at, action, to_agent, by_agent, team))
    return grouped


async def _lines(session: AsyncSession, pks: Sequence[str]) -> dict[str, list[seg.Line]]:
    query = (
        select(
            Message.conversation_id,
            Message.created_at,
            Message.author_type,
            Message.author_agent_id,
            Message.frustration_score,
            Message.delivery_status,
        )
        .where(Message.conversation_id.in_(pks))
        .order_by(Message.conversation_id, Message.created_at, Message.id)
    )
    grouped: dict[str, list[seg.Line]] = defaultdict(list)
    for pk, at, author, agent, score, status in (await session.execute(query)).tuples():
        grouped[pk].append(seg.Line(at, author, agent, score, status))
    return grouped


def _episode_row(
    pk: str, episode: seg.Episode, clock: SlaClock, slices: dict[str, Any], now: datetime
) -> dict[str, Any]:
    nexts = [(at - since).total_seconds() for since, at in episode.next_responses]
    return {
        "conversation_pk": pk,
        "seq": episode.seq,
        "started_at": episode.started_at,
        "ended_at": episode.ended_at,
        "end_kind": episode.end_kind,
        "team": episode.team,
        "final_team": episode.final_team,
        **slices,
        "first_agent_id": episode.first_agent_id,
        "resolved_by_agent_id": episode.resolved_by_agent_id,
        "first_response_at": episode.first_response_at,
        "first_response_seconds": episode.first_response_seconds,
        "first_response_business_seconds": episode.first_response_business_seconds,
        "wait_seconds": episode.wait_seconds,
        "queued_seconds": episode.queued_seconds,
        "handle_seconds": episode.handle_seconds,
        "waiting_customer_seconds": episode.waiting_customer_seconds,
        "snoozed_seconds": episode.snoozed_seconds,
        "resolution_seconds": episode.resolution_seconds,
        "resolution_business_seconds": episode.resolution_business_seconds,
        "agent_replies": episode.agent_replies,
        "next_responses": len(nexts),
        "next_response_seconds": sum(nexts),
        "next_response_max_seconds": max(nexts, default=None),
        "next_response_breaches": clock.next_response_breaches(),
        "transfers": episode.transfers,
        "reopen": episode.reopen,
        "reopened": episode.reopened,
        "abandoned": episode.abandoned,
        "fcr": episode.first_contact_resolution,
        "sla_first_response": clock.first_response(now),
        "sla_resolution": clock.resolution(now),
        "frustration_start": episode.frustration_start,
        "frustration_end": episode.frustration_end,
    }


def _work_row(
    pk: str, seq: int, work: seg.AgentWork, team: str | None, slices: dict[str, Any]
) -> dict[str, Any]:
    return {
        "conversation_pk": pk,
        "episode_seq": seq,
        "agent_id": work.agent_id,
        "started_at": work.started_at,
        "team": team,
        **slices,
        "assigned_seconds": work.assigned_seconds,
        "handle_seconds": work.handle_seconds,
        "replies": work.replies,
        "answers": work.answers,
        "tar_seconds": work.tar_seconds,
        "response_handle_seconds": work.response_handle_seconds,
        "first_tar_seconds": work.first_tar_seconds,
        "resolved": work.resolved,
    }


def _segment_row(pk: str, piece: seg.Segment) -> dict[str, Any]:
    return {
        "conversation_pk": pk,
        "episode_seq": piece.episode,
        "kind": piece.kind,
        "started_at": piece.started_at,
        "ended_at": piece.ended_at,
        "agent_id": piece.agent_id,
        "team": piece.team,
    }


@dataclass(frozen=True)
class OpenSla:
    """Where an open episode stands against its tightest SLA goal right now."""

    conversation_pk: str
    sender_id: str
    team: str | None
    status: str
    goal: str  # first_response | next_response | resolution
    state: str  # ok | approaching | breached
    seconds_left: float

    def view(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation_pk,
            "sender_id": self.sender_id,
            "team": self.team,
            "status": self.status,
            "goal": self.goal,
            "state": self.state,
            "seconds_left": round(self.seconds_left),
        }


SLA_STATES = ("ok", "approaching", "breached")


async def open_sla(
    sessions: async_sessionmaker[AsyncSession],
    calendar: BusinessCalendar | None,
    warning_ratio: float,
    now: datetime,
) -> list[OpenSla]:
    """Every conversation with people, against the targets in force (docs/kpis.md)."""
    active = [status.value for status in WITH_PEOPLE]
    async with sessions() as session:
        pks = (
            await session.scalars(select(Conversation.id).where(Conversation.status.in_(active)))
        ).all()
        loaded = await load_conversations(session, pks)
        targets = await load_targets(session)
    standing: list[OpenSla] = []
    for item in loaded:
        episodes = item.breakdown(now, calendar).episodes
        if not episodes or episodes[-1].end_kind is not None:
            continue
        episode = episodes[-1]
        clock = item.clock(episode, targets, calendar)
        target = clock.target
        goals = [("resolution", target.resolution_seconds, clock.elapsed(now))]
        if episode.first_response_at is None:
            goals.append(("first_response", target.first_response_seconds, clock.elapsed(now)))
        elif episode.waiting_since is not None:
            since = episode.waiting_since
            goals.append(("next_response", target.next_response_seconds, clock.elapsed(now, since)))
        judged = []
        for name, goal, elapsed in goals:
            if goal is None:
                continue
            left = goal - elapsed
            state = (
                "breached"
                if left < 0
                else "approaching"
                if elapsed >= warning_ratio * goal
                else "ok"
            )
            judged.append((-SLA_STATES.index(state), left, name, state))
        if judged:
            _, left, name, state = min(judged)
            row = item.row
            standing.append(
                OpenSla(row.id, row.conversation_id, row.team, row.status, name, state, left)
            )
    return standing


# ---------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True)
class Slice:
    """Which facts a KPI answer covers: episodes that started in [start, end) and match."""

    start: datetime
    end: datetime
    team: str | None = None
    agent_id: str | None = None
    channel: str | None = None
    topic: str | None = None
    priority: int | None = None
    mode: str | None = None

    def previous(self) -> Slice:
        length = self.end - self.start
        return Slice(
            self.start - length,
            self.start,
            self.team,
            self.agent_id,
            self.channel,
            self.topic,
            self.priority,
            self.mode,
        )

    def episode_filters(self) -> list[Any]:
        where: list[Any] = [KpiEpisode.started_at >= self.start, KpiEpisode.started_at < self.end]
        for column, value in (
            (KpiEpisode.team, self.team),
            (KpiEpisode.channel, self.channel),
            (KpiEpisode.topic, self.topic),
            (KpiEpisode.priority_level, self.priority),
            (KpiEpisode.mode, self.mode),
        ):
            if value is not None:
                where.append(column == value)
        if self.agent_id is not None:
            where.append(
                exists().where(
                    KpiAgentWork.conversation_pk == KpiEpisode.conversation_pk,
                    KpiAgentWork.episode_seq == KpiEpisode.seq,
                    KpiAgentWork.agent_id == self.agent_id,
                )
            )
        return where

    def work_filters(self) -> list[Any]:
        where: list[Any] = [
            KpiAgentWork.started_at >= self.start,
            KpiAgentWork.started_at < self.end,
        ]
        for column, value in (
            (KpiAgentWork.team, self.team),
            (KpiAgentWork.channel, self.channel),
            (KpiAgentWork.topic, self.topic),
            (KpiAgentWork.priority_level, self.priority),
            (KpiAgentWork.mode, self.mode),
            (KpiAgentWork.agent_id, self.agent_id),
        ):
            if value is not None:
                where.append(column == value)
        return where

    def view(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            **{
                name: getattr(self, name)
                for name in ("team", "agent_id", "channel", "topic", "priority", "mode")
                if getattr(self, name) is not None
            },
        }


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def _mean(total: float | None, count: float | None) -> float | None:
    return round(total / count, 1) if total is not None and count else None


EPISODE_AGGREGATES = {
    "handoffs": func.count(),
    "reached_agent": _count(KpiEpisode.first_agent_id.is_not(None)),
    "handled": _count(KpiEpisode.agent_replies > 0),
    "ended": _count(KpiEpisode.end_kind.is_not(None)),
    "resolved": _count(KpiEpisode.end_kind == "resolved"),
    "resolved_handled": _count(
        and_(KpiEpisode.end_kind == "resolved", KpiEpisode.agent_replies > 0)
    ),
    "auto_resolved": _count(KpiEpisode.end_kind == "auto"),
    "returned_to_bot": _count(KpiEpisode.end_kind == "returned_to_bot"),
    "fcr": _count(KpiEpisode.fcr),
    "abandoned": _count(KpiEpisode.abandoned),
    "transferred": _count(KpiEpisode.transfers > 0),
    "reopened": _count(KpiEpisode.reopened),
    "reopens": _count(KpiEpisode.reopen),
    "first_response_sum": func.sum(KpiEpisode.first_response_seconds),
    "first_response_n": func.count(KpiEpisode.first_response_seconds),
    "first_response_business_sum": func.sum(KpiEpisode.first_response_business_seconds),
    "first_response_business_n": func.count(KpiEpisode.first_response_business_seconds),
    "wait_sum": func.sum(case((KpiEpisode.first_agent_id.is_not(None), KpiEpisode.wait_seconds))),
    "handle_sum": func.sum(case((KpiEpisode.agent_replies > 0, KpiEpisode.handle_seconds))),
    "replies": func.sum(KpiEpisode.agent_replies),
    "next_response_sum": func.sum(KpiEpisode.next_response_seconds),
    "next_response_n": func.sum(KpiEpisode.next_responses),
    "next_response_breaches": func.sum(KpiEpisode.next_response_breaches),
    "resolution_sum": func.sum(
        case((KpiEpisode.end_kind == "resolved", KpiEpisode.resolution_seconds))
    ),
    "resolution_business_sum": func.sum(
        case((KpiEpisode.end_kind == "resolved", KpiEpisode.resolution_business_seconds))
    ),
    "resolution_business_n": _count(
        and_(
            KpiEpisode.end_kind == "resolved",
            KpiEpisode.resolution_business_seconds.is_not(None),
        )
    ),
    "sla_first_met": _count(KpiEpisode.sla_first_response == MET),
    "sla_first_breached": _count(KpiEpisode.sla_first_response == BREACHED),
    "sla_resolution_met": _count(KpiEpisode.sla_resolution == MET),
    "sla_resolution_breached": _count(KpiEpisode.sla_resolution == BREACHED),
    "frustration_start_sum": func.sum(KpiEpisode.frustration_start),
    "frustration_end_sum": func.sum(
        case((KpiEpisode.frustration_start.is_not(None), KpiEpisode.frustration_end))
    ),
    "frustration_n": func.count(KpiEpisode.frustration_start),
    "frustrated_at_handoff": _count(KpiEpisode.frustration_start >= seg.FRUSTRATED),
    "calmed": _count(
        and_(
            KpiEpisode.frustration_start >= seg.FRUSTRATED,
            KpiEpisode.frustration_end < seg.FRUSTRATED,
        )
    ),
}


def kpi_block(raw: dict[str, Any], mode: str | None, idle: dict[str, Any]) -> dict[str, Any]:
    """The KPIs of one group of episodes from its sums, with the agents' idle time of the group
    (docs/kpis.md names each)."""
    n = {key: (value or 0) for key, value in raw.items()}
    block: dict[str, Any] = {
        "handoffs": n["handoffs"],
        "handled": n["handled"],
        "resolved": n["resolved"],
        "auto_resolved": n["auto_resolved"],
        "returned_to_bot": n["returned_to_bot"],
        "first_response_seconds": _mean(raw["first_response_sum"], n["first_response_n"]),
        "first_response_business_seconds": _mean(
            raw["first_response_business_sum"], n["first_response_business_n"]
        ),
        "next_response_seconds": _mean(raw["next_response_sum"], n["next_response_n"]),
        "first_contact_resolution_rate": _ratio(n["fcr"], n["resolved_handled"]),
        "average_handle_seconds": _mean(raw["handle_sum"], n["handled"]),
        "resolution_seconds": _mean(raw["resolution_sum"], n["resolved"]),
        "resolution_business_seconds": _mean(
            raw["resolution_business_sum"], n["resolution_business_n"]
        ),
        "transfer_rate": _ratio(n["transferred"], n["reached_agent"]),
        "reopen_rate": _ratio(n["reopened"], n["resolved"]),
        **idle,
        "sla_first_response_attainment": _ratio(
            n["sla_first_met"], n["sla_first_met"] + n["sla_first_breached"]
        ),
        "sla_resolution_attainment": _ratio(
            n["sla_resolution_met"], n["sla_resolution_met"] + n["sla_resolution_breached"]
        ),
        "next_response_breaches": n["next_response_breaches"],
        "sentiment": {
            "frustration_at_handoff": _ratio(raw["frustration_start_sum"], n["frustration_n"]),
            "frustration_at_end": _ratio(raw["frustration_end_sum"], n["frustration_n"]),
            "frustrated_at_handoff": n["frustrated_at_handoff"],
            "calmed": n["calmed"],
            "conversion_rate": _ratio(n["calmed"], n["frustrated_at_handoff"]),
        },
    }
    if mode != "async":
        block["average_wait_seconds"] = _mean(raw["wait_sum"], n["reached_agent"])
        block["abandonment_rate"] = _ratio(n["abandoned"], n["ended"])
        block["abandoned"] = n["abandoned"]
    if mode != "sync":
        block["responses_per_conversation"] = _ratio(n["replies"], n["handled"])
        handle_hours = (raw["handle_sum"] or 0) / 3600
        block["handled_per_hour"] = round(n["handled"] / handle_hours, 2) if handle_hours else None
        block["closed_without_response"] = n["abandoned"]
    return block


class KpiQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def summary(self, where: Slice, compare: bool = True) -> dict[str, Any]:
        answer = {"slice": where.view(), "current": await self._summary(where)}
        if compare:
            previous = where.previous()
            answer["previous_slice"] = previous.view()
            answer["previous"] = await self._summary(previous)
        return answer

    async def _summary(self, where: Slice) -> dict[str, Any]:
        labels = list(EPISODE_AGGREGATES)
        query = (
            select(KpiEpisode.mode, *(EPISODE_AGGREGATES[label] for label in labels))
            .where(*where.episode_filters())
            .group_by(KpiEpisode.mode)
        )
        groups: dict[str, dict[str, Any]] = {}
        total: dict[str, Any] = {label: None for label in labels}
        async with self.sessions() as session:
            for mode, *values in (await session.execute(query)).tuples():
                raw = dict(zip(labels, values, strict=True))
                groups[mode or "sync"] = raw
                for label, value in raw.items():
                    if value is not None:
                        total[label] = (total[label] or 0) + value
            bot = await self._bot(session, where)
            idle = await idle_by_mode(session, where, utc_now())
        empty = {label: None for label in labels}
        return {
            "sync": kpi_block(groups.get("sync", empty), "sync", idle["sync"]),
            "async": kpi_block(groups.get("async", empty), "async", idle["async"]),
            "all": kpi_block(total, None, idle["all"]),
            "bot": bot,
        }

    async def _bot(self, session: AsyncSession, where: Slice) -> dict[str, Any]:
        conditions = [KpiBotContact.started_at >= where.start, KpiBotContact.started_at < where.end]
        for column, value in (
            (KpiBotContact.channel, where.channel),
            (KpiBotContact.topic, where.topic),
        ):
            if value is not None:
                conditions.append(column == value)
        contacts, handed_off = (
            await session.execute(
                select(func.count(), _count(KpiBotContact.handed_off)).where(*conditions)
            )
        ).one()
        contacts, handed_off = contacts or 0, handed_off or 0
        return {
            "contacts": contacts,
            "contained": contacts - handed_off,
            "handed_off": handed_off,
            "containment_rate": _ratio(contacts - handed_off, contacts),
            "handoff_rate": _ratio(handed_off, contacts),
        }

    async def agents(self, where: Slice) -> list[dict[str, Any]]:
        """The per-agent table (docs/kpis.md, "Per agent")."""
        query = (
            select(
                KpiAgentWork.agent_id,
                func.count(),
                _count(KpiAgentWork.replies > 0),
                func.sum(KpiAgentWork.replies),
                func.sum(KpiAgentWork.answers),
                func.sum(KpiAgentWork.tar_seconds),
                func.sum(KpiAgentWork.response_handle_seconds),
                func.avg(KpiAgentWork.first_tar_seconds),
                func.sum(case((KpiAgentWork.replies > 0, KpiAgentWork.handle_seconds))),
                _count(KpiAgentWork.resolved),
            )
            .where(*where.work_filters())
            .group_by(KpiAgentWork.agent_id)
        )
        async with self.sessions() as session:
            rows = list((await session.execute(query)).tuples().all())
            satisfaction = await agent_satisfaction(session, where)
            presence = await presence_time(session, where, utc_now())
            present = set(presence)
            if where.team is not None:  # online elsewhere is not a row of this team
                present &= await team_members(session, where.team)
            worked = {row[0] for row in rows}
            others = sorted((set(satisfaction) | present) - worked)
            rows += [(agent, 0, 0, 0, 0, None, None, None, None, 0) for agent in others]
            names = await _agent_names(session, [row[0] for row in rows])
        table = []
        for agent_id, assigned, answered, replies, answers, tar, handle, first, conv, done in rows:
            table.append(
                {
                    "agent_id": agent_id,
                    "agent_name": names.get(agent_id, "(removed agent)"),
                    "conversations_assigned": assigned,
                    "conversations_answered": answered or 0,
                    "responses": replies or 0,
                    "average_first_tar_seconds": round(first, 1) if first is not None else None,
                    "average_tar_seconds": _mean(tar, answers),
                    "average_response_handle_seconds": _mean(handle, answers),
                    "average_conversation_handle_seconds": _mean(conv, answered),
                    "resolved": done or 0,
                    **satisfaction.get(agent_id, no_satisfaction()),
                    **presence.get(agent_id, no_presence()),
                }
            )
        return sorted(table, key=lambda row: (-row["responses"], row["agent_name"]))

    async def series(self, where: Slice, bucket: str) -> list[dict[str, Any]]:
        """Per hour or day: volume, first response and handle time percentiles, SLA attainment,
        containment, satisfaction (by the surveys' answer time)."""
        async with self.sessions() as session:
            dialect = session.get_bind().dialect.name
            start = _bucket(dialect, KpiEpisode.started_at, bucket)
            query: Select[Any] = select(
                start,
                KpiEpisode.first_response_seconds,
                case((KpiEpisode.agent_replies > 0, KpiEpisode.handle_seconds)),
                KpiEpisode.sla_first_response,
            ).where(*where.episode_filters())
            points: dict[str, dict[str, Any]] = defaultdict(_point)
            for key, first, handle, sla in (await session.execute(query)).tuples():
                point = points[str(key)]
                point["handoffs"] += 1
                if first is not None:
                    point["_first"].append(first)
                if handle is not None:
                    point["_handle"].append(handle)
                if sla is not None:
                    point["_sla"].append(sla == MET)
            contact = _bucket(dialect, KpiBotContact.started_at, bucket)
            contacts = select(contact, func.count(), _count(KpiBotContact.handed_off)).where(
                KpiBotContact.started_at >= where.start, KpiBotContact.started_at < where.end
            )
            for key, count, handed_off in (
                await session.execute(contacts.group_by(contact))
            ).tuples():
                point = points[str(key)]
                point["bot_contacts"] = count
                point["containment_rate"] = _ratio(count - (handed_off or 0), count)
            answered = _bucket(dialect, CsatSurvey.answered_at, bucket)
            for key, figures in (await satisfaction_series(session, where, answered)).items():
                points[key].update(figures)
        return [_finish(key, point) for key, point in sorted(points.items())]

    async def live(
        self, calendar: BusinessCalendar | None, warning_ratio: float, now: datetime
    ) -> dict[str, Any]:
        """The dashboard's live tiles: waiting and assigned per team, the oldest wait, SLA
        risk, agents online and away (in all and per team), agents signed in, handled and
        resolved today (UTC)."""
        standing = await open_sla(self.sessions, calendar, warning_ratio, now)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        teams: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "waiting": 0,
                "assigned": 0,
                "oldest_wait_seconds": None,
                "approaching": 0,
                "breached": 0,
                "agents_online": 0,
                "agents_away": 0,
            }
        )
        async with self.sessions() as session:
            query = select(
                Conversation.team,
                Conversation.status,
                func.count(),
                func.min(Conversation.queued_at),
            ).where(Conversation.status.in_([status.value for status in WITH_PEOPLE]))
            for team, status, count, oldest in (
                await session.execute(query.group_by(Conversation.team, Conversation.status))
            ).tuples():
                tile = teams[team or "-"]
                if status == "queued":
                    tile["waiting"] = count
                    if oldest is not None:
                        tile["oldest_wait_seconds"] = round((now - oldest).total_seconds())
                else:
                    tile["assigned"] = count
            signed_in = await session.scalar(
                select(func.count(func.distinct(AgentSession.agent_id))).where(
                    AgentSession.expires_at > now
                )
            )
            present, present_by_team = await QueueStore(session).presence_counts()
            for team, counts in present_by_team.items():
                teams[team]["agents_online"] = counts[ONLINE]
                teams[team]["agents_away"] = counts[AWAY]
            today = [KpiEpisode.started_at >= midnight - timedelta(days=30)]
            handled, resolved = (
                await session.execute(
                    select(
                        _count(
                            and_(KpiEpisode.started_at >= midnight, KpiEpisode.agent_replies > 0)
                        ),
                        _count(
                            and_(KpiEpisode.end_kind == "resolved", KpiEpisode.ended_at >= midnight)
                        ),
                    ).where(*today)
                )
            ).one()
        for item in standing:
            if item.state != "ok":
                teams[item.team or "-"][item.state] += 1
        return {
            "at": now.isoformat(),
            "teams": [{"team": team, **tile} for team, tile in sorted(teams.items())],
            "waiting": sum(tile["waiting"] for tile in teams.values()),
            "oldest_wait_seconds": max(
                (
                    t["oldest_wait_seconds"]
                    for t in teams.values()
                    if t["oldest_wait_seconds"] is not None
                ),
                default=None,
            ),
            "approaching": sum(1 for item in standing if item.state == "approaching"),
            "breached": sum(1 for item in standing if item.state == "breached"),
            "at_risk": [
                item.view()
                for item in sorted(standing, key=lambda i: i.seconds_left)
                if item.state != "ok"
            ][:50],
            "agents_online": present[ONLINE],
            "agents_away": present[AWAY],
            "agents_signed_in": signed_in or 0,
            "handled_today": handled or 0,
            "resolved_today": resolved or 0,
        }

    async def drill(self, where: Slice, metric: str, limit: int = 500) -> list[dict[str, Any]]:
        """The episodes behind a figure (`DRILL_METRICS`), newest first."""
        condition = DRILL_METRICS[metric]
        query = (
            select(KpiEpisode, Conversation.conversation_id, Conversation.status)
            .join(Conversation, Conversation.id == KpiEpisode.conversation_pk)
            .where(*where.episode_filters(), condition)
            .order_by(KpiEpisode.started_at.desc(), KpiEpisode.id.desc())
            .limit(limit)
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).tuples().all()
            names = await _agent_names(
                session, [e.first_agent_id for e, _, _ in rows if e.first_agent_id]
            )
        return [drill_row(episode, sender, status, names) for episode, sender, status in rows]


DRILL_METRICS: dict[str, Any] = {
    "handoffs": True,
    "handled": KpiEpisode.agent_replies > 0,
    "resolved": KpiEpisode.end_kind == "resolved",
    "fcr": KpiEpisode.fcr,
    "abandoned": KpiEpisode.abandoned,
    "transferred": KpiEpisode.transfers > 0,
    "reopened": KpiEpisode.reopened,
    "returned_to_bot": KpiEpisode.end_kind == "returned_to_bot",
    "open": KpiEpisode.end_kind.is_(None),
    "sla_first_response_breached": KpiEpisode.sla_first_response == BREACHED,
    "sla_resolution_breached": KpiEpisode.sla_resolution == BREACHED,
    "frustrated_at_handoff": KpiEpisode.frustration_start >= seg.FRUSTRATED,
}
DRILL_COLUMNS = (
    "conversation",
    "sender_id",
    "status",
    "episode",
    "started_at",
    "ended_at",
    "end_kind",
    "team",
    "channel",
    "topic",
    "priority",
    "mode",
    "first_agent",
    "first_response_seconds",
    "handle_seconds",
    "agent_replies",
    "transfers",
    "sla_first_response",
    "sla_resolution",
)


def drill_row(
    episode: KpiEpisode, sender: str, status: str, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "conversation": episode.conversation_pk,
        "sender_id": sender,
        "status": status,
        "episode": episode.seq,
        "started_at": episode.started_at.isoformat(),
        "ended_at": episode.ended_at.isoformat() if episode.ended_at else None,
        "end_kind": episode.end_kind,
        "team": episode.final_team,
        "channel": episode.channel,
        "topic": episode.topic,
        "priority": episode.priority_level,
        "mode": episode.mode,
        "first_agent": names.get(episode.first_agent_id or ""),
        "first_response_seconds": episode.first_response_seconds,
        "handle_seconds": round(episode.handle_seconds, 1),
        "agent_replies": episode.agent_replies,
        "transfers": episode.transfers,
        "sla_first_response": episode.sla_first_response,
        "sla_resolution": episode.sla_resolution,
    }


async def _agent_names(session: AsyncSession, ids: Iterable[str]) -> dict[str, str]:
    return await Agents(session).names(ids)


def _bucket(dialect: str, column: Any, bucket: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, func.timezone("UTC", column)), _PG[bucket])
    return func.strftime(_SQLITE[bucket], column)


_PG = {"hour": 'YYYY-MM-DD"T"HH24:00', "day": "YYYY-MM-DD"}
_SQLITE = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d"}
BUCKETS = tuple(_PG)


def _point() -> dict[str, Any]:
    return {
        "handoffs": 0,
        "bot_contacts": 0,
        "containment_rate": None,
        **no_satisfaction(),
        "_first": [],
        "_handle": [],
        "_sla": [],
    }


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 1)


def _finish(key: str, point: dict[str, Any]) -> dict[str, Any]:
    first, handle, sla = point.pop("_first"), point.pop("_handle"), point.pop("_sla")
    return {
        "bucket": key,
        **point,
        "first_response_p50": percentile(first, 0.5),
        "first_response_p90": percentile(first, 0.9),
        "handle_p50": percentile(handle, 0.5),
        "handle_p90": percentile(handle, 0.9),
        "sla_first_response_attainment": _ratio(sum(sla), len(sla)),
    }
