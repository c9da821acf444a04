"""SLA targets per priority and mode, editable by supervisors, and the SLA clock (docs/kpis.md).

A target row gives first response, next response and resolution in seconds (each may be
absent) and whether they count business hours only. Without a row, the first response target
is the priority's own promise from the bot (`first_response_minutes` of the intake) on the wall
clock, and there is no next response or resolution target.

The clock of an episode runs from the handoff and stops while the conversation is snoozed and,
in async mode, while it waits on the customer (`Episode.paused`); with `business_hours` it only
runs while the conversation's queue is open (`bot/welcome.yml`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.db import insert_for
from handoff.errors import Invalid
from handoff.models import SlaTarget, utc_now
from handoff.services.business_calendar import BusinessCalendar
from handoff.services.segments import Episode

MODES = ("sync", "async")
# First-response promise (minutes) by mode and priority name where no supervisor's row says
# otherwise, for a conversation whose mode an agent switches (the bot makes the live-chat
# promise at handoff with the same figures: actions/priority.py).
DEFAULT_FIRST_RESPONSE_MINUTES: dict[str, dict[str, int]] = {
    "sync": {"urgent": 2, "high": 5, "normal": 20, "low": 30},
    "async": {"urgent": 60, "high": 240, "normal": 480, "low": 1440},
}
PRIORITIES = (1, 2, 3, 4)
GOALS = ("first_response_seconds", "next_response_seconds", "resolution_seconds")
MAX_TARGET_SECONDS = 60 * 60 * 24 * 90
MET, BREACHED = "met", "breached"


@dataclass(frozen=True)
class Target:
    priority_level: int
    mode: str
    first_response_seconds: int | None = None
    next_response_seconds: int | None = None
    resolution_seconds: int | None = None
    business_hours: bool = False
    configured: bool = False  # a supervisor's row (else the fallback described above)

    def view(self) -> dict[str, Any]:
        return {
            "priority": self.priority_level,
            "mode": self.mode,
            **{goal: getattr(self, goal) for goal in GOALS},
            "business_hours": self.business_hours,
            "configured": self.configured,
        }


class Targets:
    """The targets in force (a snapshot: load once per KPI round or request)."""

    def __init__(self, rows: Sequence[SlaTarget]) -> None:
        self.rows = {(row.priority_level, row.mode): row for row in rows}

    def for_episode(self, priority_level: int, mode: str | None, promised: int | None) -> Target:
        row = self.rows.get((priority_level, mode or "sync"))
        if row is None:
            promise = promised * 60 if promised is not None else None
            return Target(priority_level, mode or "sync", first_response_seconds=promise)
        return Target(
            row.priority_level,
            row.mode,
            row.first_response_seconds,
            row.next_response_seconds,
            row.resolution_seconds,
            row.business_hours,
            configured=True,
        )

    def all(self) -> list[Target]:
        return [self.for_episode(level, mode, None) for level in PRIORITIES for mode in MODES]


class SlaClock:
    """Elapsed SLA seconds of one episode under one target."""

    def __init__(
        self,
        episode: Episode,
        target: Target,
        calendar: BusinessCalendar | None,
        topic: str | None,
    ) -> None:
        self.episode, self.target = episode, target
        self.calendar, self.topic = calendar, topic

    def measure(self, start: datetime, stop: datetime) -> float:
        if stop <= start:
            return 0.0
        if self.target.business_hours and self.calendar is not None:
            return self.calendar.open_seconds(self.topic, start, stop)
        return (stop - start).total_seconds()

    def elapsed(self, stop: datetime, start: datetime | None = None) -> float:
        start = start or self.episode.started_at
        paused = sum(
            self.measure(max(start, a), min(stop, b)) for a, b in self.episode.paused if a < stop
        )
        return max(0.0, self.measure(start, stop) - paused)

    def first_response(self, now: datetime) -> str | None:
        goal = self.target.first_response_seconds
        if goal is None:
            return None
        answered = self.episode.first_response_at
        if answered is not None:
            return MET if self.elapsed(answered) <= goal else BREACHED
        return BREACHED if self.elapsed(self.episode.ended_at or now) > goal else None

    def resolution(self, now: datetime) -> str | None:
        goal = self.target.resolution_seconds
        if goal is None:
            return None
        if self.episode.end_kind is not None:
            return MET if self.elapsed(self.episode.ended_at or now) <= goal else BREACHED
        return BREACHED if self.elapsed(now) > goal else None

    def next_response_breaches(self) -> int:
        goal = self.target.next_response_seconds
        if goal is None:
            return 0
        return sum(1 for since, at in self.episode.next_responses if self.elapsed(at, since) > goal)

    def first_response_left(self, now: datetime) -> float | None:
        """SLA seconds left for the first response of an open, unanswered episode."""
        goal = self.target.first_response_seconds
        if goal is None or self.episode.first_response_at is not None:
            return None
        return goal - self.elapsed(now)


def default_first_response_minutes(mode: str, priority_name: str) -> int:
    defaults = DEFAULT_FIRST_RESPONSE_MINUTES[mode]
    return defaults.get(priority_name, defaults["normal"])


async def load_targets(session: AsyncSession) -> Targets:
    return Targets((await session.scalars(select(SlaTarget))).all())


class SlaTargetService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def current(self) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            return [target.view() for target in (await load_targets(session)).all()]

    async def put(self, body: Any, agent_id: str) -> list[dict[str, Any]]:
        """Replace the targets given (`{"targets": [{priority, mode, …}]}`); all or nothing."""
        rows = _parse_targets(body)
        async with self.sessions.begin() as session:
            for values in rows:
                statement = insert_for(session, SlaTarget).values(
                    **values, updated_at=utc_now(), updated_by_agent_id=agent_id
                )
                update = {k: v for k, v in values.items() if k not in ("priority_level", "mode")}
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["priority_level", "mode"],
                        set_={**update, "updated_at": utc_now(), "updated_by_agent_id": agent_id},
                    )
                )
        return await self.current()


def _parse_targets(body: Any) -> list[dict[str, Any]]:
    items = body.get("targets") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise Invalid("targets must be a non-empty list.", "invalid_targets")
    parsed: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for index, item in enumerate(items):
        where = f"targets[{index}]"
        if not isinstance(item, dict):
            raise Invalid(f"{where} must be an object.", "invalid_targets")
        level, mode = item.get("priority"), item.get("mode")
        if type(level) is not int or level not in PRIORITIES:
            raise Invalid(f"{where}.priority must be 1, 2, 3 or 4.", "invalid_targets")
        if mode not in MODES:
            raise Invalid(f"{where}.mode must be sync or async.", "invalid_targets")
        if (level, mode) in seen:
            raise Invalid(f"{where}: priority {level} {mode} is given twice.", "invalid_targets")
        seen.add((level, mode))
        values: dict[str, Any] = {"priority_level": level, "mode": mode}
        for goal in GOALS:
            value = item.get(goal)
            if value is not None and (
                type(value) is not int or not 0 < value <= MAX_TARGET_SECONDS
            ):
                raise Invalid(
                    f"{where}.{goal} must be a whole number of seconds from 1 to"
                    f" {MAX_TARGET_SECONDS}, or null.",
                    "invalid_targets",
                )
            values[goal] = value
        business = item.get("business_hours", False)
        if not isinstance(business, bool):
            raise Invalid(f"{where}.business_hours must be true or false.", "invalid_targets")
        values["business_hours"] = business
        parsed.append(values)
    return parsed
