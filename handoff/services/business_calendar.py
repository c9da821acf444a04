"""The teams' opening hours for business-hours KPIs and SLA clocks.

They come from the same file the bot tells customers about (`bot/welcome.yml`: `schedules`,
`queues` mapping a triage topic to a schedule, `default_schedule`), so "business hours" here are
the hours customers were promised. The bot validates that file with messages naming the rule
and field (`python -m actions.welcome_rules`); here a broken schedule is a `ValueError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from contracts.business_hours import (
    WEEKDAYS,
    Holiday,
    Schedule,
    TimeRange,
    check_ranges,
    parse_time_range,
)
from handoff.settings import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "bot" / "welcome.yml"


class BusinessCalendar:
    """Which schedule a conversation's topic (queue) follows, and its open seconds."""

    def __init__(self, schedules: Mapping[str, Schedule], queues: Mapping[str, str], default: str):
        self.schedules = dict(schedules)
        self.queues = dict(queues)
        self.default = default

    def schedule_for(self, topic: str | None) -> Schedule:
        name = self.queues.get((topic or "").strip().lower(), self.default)
        return self.schedules[name]

    def open_seconds(self, topic: str | None, start: datetime, end: datetime) -> float:
        return self.schedule_for(topic).open_seconds(start, end)


def load_calendar(path: str | Path = DEFAULT_PATH) -> BusinessCalendar:
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    schedules = {
        name: _schedule(str(name), spec) for name, spec in (raw.get("schedules") or {}).items()
    }
    default = str(raw.get("default_schedule", "support"))
    queues = {str(q).lower(): str(s) for q, s in (raw.get("queues") or {}).items()}
    for name in (default, *queues.values()):
        if name not in schedules:
            raise ValueError(f"{path}: schedule {name!r} is used but not declared")
    return BusinessCalendar(schedules, queues, default)


def _schedule(name: str, spec: Any) -> Schedule:
    try:
        weekly = spec.get("weekly") or {}
        return Schedule(
            name=name,
            timezone=ZoneInfo(str(spec["timezone"])),
            weekly=tuple(_ranges(weekly.get(day) or []) for day in WEEKDAYS),
            holidays=tuple(
                Holiday(_day(item["date"]), item.get("name"), _ranges(item.get("hours") or []))
                for item in spec.get("holidays") or []
            ),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"schedule {name!r}: {error}") from None


def _ranges(texts: list[str]) -> tuple[TimeRange, ...]:
    return check_ranges(tuple(parse_time_range(text) for text in texts))


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
