"""A few weeks of realistic, made-up history so the KPI dashboard shows something on a first
start (`python -m handoff.cli seed-history`; `make run` seeds it once).

Volume follows the hour of day and the weekday; most conversations stay with the bot; handoffs
are claimed after a wait, answered, sometimes transferred or released, and resolved or returned
to the bot; async ones take hours and wait on the customer. Every row is written as the service
itself would (conversations, lines, assignment history), then the KPI refresher computes the
facts. A person's resolution has its survey decision, answered about a third of the time (the
others were asked, never answered: none is left for the service to send), and the agents have
shifts in the presence history (`demo_presence.py`). Seeded conversations have sender ids
`demo-history-…`; seeding again replaces them, their surveys and the agents' presence changes
of the seeded days. Customers and agents say what `demo_dialogues.py` has for the topic, so
suggested responses can learn from the history on a first start.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.csat import REASONS, SCALES
from handoff.models import (
    AgentTeam,
    Assignment,
    Conversation,
    CsatSurvey,
    Message,
    PresenceChange,
    new_id,
    utc_now,
)
from handoff.services.csat import ANSWERED, SENT, SKIPPED
from handoff.services.demo_dialogues import DIALOGUES
from handoff.services.demo_presence import shift_changes

PREFIX = "demo-history-"
CHANNELS = (("whatsapp", 0.5), ("webchat", 0.35), ("messenger", 0.15))
TOPICS = {  # triage topic -> team
    "billing": "billing",
    "account": "accounts",
    "order": "orders",
    "technical": "devices",
    "complaint": "care",
}
PRIORITIES = (
    (1, "urgent", 5, 0.05),
    (2, "high", 10, 0.2),
    (3, "normal", 15, 0.6),
    (4, "low", 60, 0.15),
)
HOURLY = (1, 1, 0, 0, 0, 1, 2, 4, 8, 10, 10, 9, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 2, 1)
ANSWER_RATE = 0.35  # of the surveys asked
SCORES = {  # scale -> weight of each score from the lowest
    "csat_5": (0.05, 0.07, 0.13, 0.35, 0.40),
    "nps_10": (0.02, 0.01, 0.02, 0.03, 0.03, 0.05, 0.07, 0.12, 0.2, 0.22, 0.23),
}


@dataclass
class Batch:
    conversations: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _ in weighted], [weight for _, weight in weighted])[0]


def conversation_times(
    rng: random.Random, start: datetime, days: int, per_day: float
) -> Iterator[datetime]:
    """Start times with daily and weekly seasonality (weekends are quieter)."""
    for day in range(days):
        midnight = start + timedelta(days=day)
        weekend = midnight.weekday() >= 5
        for hour, weight in enumerate(HOURLY):
            mean = per_day * weight / sum(HOURLY) * (0.5 if weekend else 1.0)
            count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
            for _ in range(count):
                yield midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))


class HistoryWriter:
    """Builds one conversation's rows at a time into a batch. The surveys draw from their own
    `answers` generator, so the conversations are the same with or without them."""

    def __init__(
        self,
        rng: random.Random,
        agents: dict[str, list[str]],
        now: datetime,
        answers: random.Random,
        scale: str = "csat_5",
    ) -> None:
        self.rng, self.agents, self.now = rng, agents, now
        self.answers, self.scale = answers, scale
        self.readings: list[tuple[datetime, float]] = []  # the frustration readings so far
        self.batch = Batch()
        self.seqs: dict[str, int] = {}  # lines so far of the conversation being built
        self.said: dict[str, int] = {}  # customer and agent lines so far, by author
        self.dialogue = DIALOGUES["billing"][0]
        self.reference = ""

    def conversation(self, begin: datetime, number: int) -> None:
        rng = self.rng
        pk, sender = new_id(), f"{PREFIX}{number:07d}"
        channel = _pick(rng, CHANNELS)
        topic = rng.choice(list(TOPICS))
        team = TOPICS[topic]
        # chosen by number, not by `rng`: the KPI figures stay as they were before the texts
        options = DIALOGUES[topic]
        self.dialogue, self.said, self.readings = options[number % len(options)], {}, []
        self.reference = f"LH{30000000 + number * 7919 % 10**7:08d}"
        level, name, minutes, _ = _pick(rng, [(p, p[3]) for p in PRIORITIES])
        mode = "async" if rng.random() < 0.3 else "sync"
        at = begin
        self._line(pk, at, "customer", frustration=round(rng.uniform(0, 0.5), 2))
        for _ in range(rng.randint(1, 4)):
            at += timedelta(seconds=rng.uniform(2, 60))
            self._line(pk, at, "bot")
            at += timedelta(seconds=rng.uniform(5, 120))
            self._line(pk, at, "customer", frustration=round(rng.uniform(0, 0.9), 2))
        row: dict[str, Any] = {
            "id": pk,
            "conversation_id": sender,
            "channel": channel,
            "customer_id": sender,
            "customer_language": "en",
            "status": "bot",
            "priority_level": level,
            "priority_name": name,
            "first_response_minutes": minutes,
            "mode": mode,
            "team": team,
            "tags": [topic],
            "reasons": [],
            "triage_topic": topic,
            "triage_reference": self.reference,
            "frustration_score": 0.0,
            "frustration_signals": [],
            "created_at": begin,
            "updated_at": self.now,
            "version": 1,
            **dict.fromkeys(
                (
                    "queued_at",
                    "assigned_at",
                    "first_response_at",
                    "resolved_at",
                    "returned_to_bot_at",
                    "assigned_agent_id",
                )
            ),
        }
        if rng.random() < 0.35 and self.agents.get(team):
            at = self._handoff(pk, row, at, team, mode)
        row["updated_at"] = self.now  # written now: the KPI refresher's rounds pick it up
        row["last_seq"] = self.seqs.pop(pk, 0)
        self.batch.conversations.append(row)

    def _handoff(
        self, pk: str, row: dict[str, Any], at: datetime, team: str, mode: str
    ) -> datetime:
        rng = self.rng
        at += timedelta(seconds=rng.uniform(5, 30))
        self._change(pk, at, "intake", team=team)
        row.update(status="queued", queued_at=at)
        slow = 40.0 if mode == "async" else 1.0
        pickup = at + timedelta(seconds=rng.expovariate(1 / (180 * slow)))
        if pickup > self.now:
            return at  # still waiting
        if rng.random() < 0.06:  # nobody answered: closed by a supervisor later
            at = pickup + timedelta(minutes=rng.uniform(20, 90))
            if at <= self.now:
                self._change(pk, at, "resolve")
                row.update(status="resolved", resolved_at=at)
                self._survey(row, at, [])
            return at
        agent = rng.choice(self.agents[team])
        owners = [agent]
        at = pickup
        self._change(pk, at, "claim", to_agent_id=agent, by_agent_id=agent)
        row.update(status="assigned", assigned_agent_id=agent, assigned_at=at)
        self._line(pk, at + timedelta(seconds=1), "system")
        for turn in range(rng.randint(1, 5)):
            at += timedelta(seconds=rng.expovariate(1 / (60 * slow)) + 20)
            if at > self.now:
                return at
            self._line(pk, at, "agent", agent=agent)
            row["first_response_at"] = row["first_response_at"] or at
            at += timedelta(seconds=rng.expovariate(1 / (90 * slow * 2)) + 10)
            if at > self.now:
                return at
            self._line(pk, at, "customer", frustration=round(max(0, 0.6 - 0.15 * turn), 2))
            if turn == 1 and rng.random() < 0.1:
                others = [a for a in self.agents[team] if a != agent]
                if others:
                    agent, previous = rng.choice(others), agent
                    self._change(
                        pk, at, "transfer_agent", to_agent_id=agent, from_agent_id=previous
                    )
                    row.update(assigned_agent_id=agent)
                    owners.append(agent)
        at += timedelta(seconds=rng.expovariate(1 / (60 * slow)) + 20)
        if at > self.now:
            return at
        self._line(pk, at, "agent", agent=agent)
        at += timedelta(seconds=rng.uniform(10, 120))
        if at > self.now:
            return at
        if rng.random() < 0.15:
            self._change(pk, at, "return_to_bot", from_agent_id=agent, by_agent_id=agent)
            row.update(status="bot", returned_to_bot_at=at, assigned_agent_id=None)
        else:
            self._change(pk, at, "resolve", from_agent_id=agent, by_agent_id=agent)
            row.update(status="resolved", resolved_at=at)
            self._survey(row, at, owners)
        return at

    def _survey(self, row: dict[str, Any], resolved: datetime, owners: list[str]) -> None:
        """The survey decision of a resolution: skipped when no agent wrote (`owners` empty),
        else asked and maybe answered; transfers and an upset customer score lower."""
        answers = self.answers
        queued = row["queued_at"]
        record: dict[str, Any] = {
            "id": new_id(),
            "conversation_id": row["id"],
            "customer_id": row["customer_id"],
            "status": SKIPPED if not owners else SENT,
            "rule": None if owners else "handled_by_person",
            "reason": None if owners else REASONS["handled_by_person"],
            "template": None,
            "scale": self.scale,
            "due_at": resolved if owners else None,
            "last_agent_id": owners[-1] if owners else None,
            "agent_ids": list(dict.fromkeys(owners)),
            "frustration_at_handoff": next(
                (score for at, score in reversed(self.readings) if at <= queued), None
            ),
            "frustration_at_end": self.readings[-1][1] if self.readings else None,
            "score": None,
            "comment": None,
            "decided_at": resolved,
            "answered_at": None,
        }
        answered = resolved + timedelta(minutes=1 + answers.expovariate(1 / 10))
        if owners and answers.random() < ANSWER_RATE and answered <= self.now:
            low, high = SCALES[self.scale]
            score = answers.choices(range(low, high + 1), SCORES[self.scale])[0]
            upset = len(owners) > 1 or (record["frustration_at_end"] or 0) >= 0.5
            if upset and answers.random() < 0.5:
                score = max(low, score - (high - low) // 4)
            record.update(status=ANSWERED, score=score, answered_at=answered)
        self.batch.surveys.append(record)

    def _line(
        self,
        pk: str,
        at: datetime,
        author: str,
        agent: str | None = None,
        frustration: float | None = None,
    ) -> None:
        if at > self.now:
            return
        if frustration is not None:
            self.readings.append((at, frustration))
        seq = self.seqs[pk] = self.seqs.get(pk, 0) + 1  # the conversation's line order
        self.batch.messages.append(
            {
                "id": new_id(),
                "seq": seq,
                "conversation_id": pk,
                "author_type": author,
                "author_name": None,
                "author_agent_id": agent,
                "text": self._text(author),
                "attachments": [],
                "dedupe_key": new_id(),
                "frustration_score": frustration,
                "frustration_signals": [],
                "delivery_status": "delivered" if author in ("agent", "system") else None,
                "created_at": at,
            }
        )

    def _text(self, author: str) -> str:
        """The dialogue's next line for a customer or an agent (the last one repeats)."""
        lines = getattr(self.dialogue, author, None)
        if lines is None:
            return "(demo history)"
        said = self.said[author] = self.said.get(author, 0) + 1
        return lines[min(said, len(lines)) - 1].format(ref=self.reference)

    def _change(self, pk: str, at: datetime, action: str, **values: Any) -> None:
        self.batch.assignments.append(
            {
                "conversation_id": pk,
                "action": action,
                "at": at,
                "note": None,
                **dict.fromkeys(("to_agent_id", "from_agent_id", "by_agent_id", "team")),
                **values,
            }
        )


async def team_agents(session: AsyncSession) -> dict[str, list[str]]:
    rows = await session.execute(select(AgentTeam.team_id, AgentTeam.agent_id))
    agents: dict[str, list[str]] = {}
    for team, agent in rows.tuples():
        agents.setdefault(team, []).append(agent)
    return {team: sorted(ids) for team, ids in agents.items()}


async def seed_history(
    sessions: async_sessionmaker[AsyncSession],
    days: int = 21,
    per_day: float = 120,
    seed: int = 1,
    now: datetime | None = None,
    batch_size: int = 2000,
    scale: str = "csat_5",
) -> int:
    """Replace the demo history with `days` days ending now, its surveys on `scale` and the
    agents' shifts of the days before today; how many conversations."""
    now = now or utc_now()
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    async with sessions.begin() as session:
        agents = await team_agents(session)
        await session.execute(
            delete(Conversation).where(Conversation.conversation_id.like(f"{PREFIX}%"))
        )  # their lines, history and surveys with them
        everyone = sorted({agent for ids in agents.values() for agent in ids})
        await session.execute(
            delete(PresenceChange).where(
                PresenceChange.agent_id.in_(everyone),
                PresenceChange.at >= start,
                PresenceChange.at < today,
            )
        )
        shifts = list(
            shift_changes(random.Random(f"{seed}:shifts"), everyone, start, (today - start).days)
        )
        if shifts:
            await session.execute(insert(PresenceChange), shifts)
    writer = HistoryWriter(rng, agents, now, random.Random(f"{seed}:surveys"), scale)
    count = 0
    for begin in conversation_times(rng, start, days + 1, per_day):
        if begin >= now:
            continue
        writer.conversation(begin, count)
        count += 1
        if len(writer.batch.conversations) >= batch_size:
            await _write(sessions, writer.batch)
            writer.batch = Batch()
    await _write(sessions, writer.batch)
    return count


async def _write(sessions: async_sessionmaker[AsyncSession], batch: Batch) -> None:
    async with sessions.begin() as session:
        for table, rows in (
            (Conversation, batch.conversations),
            (Message, batch.messages),
            (Assignment, batch.assignments),
            (CsatSurvey, batch.surveys),
        ):
            if rows:
                await session.execute(insert(table), rows)
