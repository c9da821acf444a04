"""Weekly opening hours with holidays, evaluated on the schedule's wall clock.

Standard library only: the welcome rules, the handoff action and the handoff service's KPIs
(business-hours response times) use it.

Semantics:
- A range "08:00-20:00" is open from 08:00 inclusive to 20:00 exclusive, local time of the
  schedule's zone; "24:00" may end a range (end of the day).
- Overnight ranges such as "22:00-02:00" are rejected: write "22:00-24:00" on one day and
  "00:00-02:00" on the next. This keeps every range on one calendar day, so a holiday closes
  exactly the day it names.
- Daylight saving time follows from evaluating wall-clock times with zoneinfo: a shop open
  08:00-20:00 is open 08:00-20:00 local time on both sides of a switch. An opening time that does
  not exist (skipped by a spring-forward switch) opens at the switch; an opening time that occurs
  twice (autumn) opens at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEXT_OPEN_HORIZON_DAYS = 14

_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, order=True)
class TimeRange:
    """Minutes since local midnight, `start` inclusive, `end` exclusive."""

    start: int
    end: int

    def contains(self, minute: float) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{_format_minutes(self.start)}-{_format_minutes(self.end)}"


@dataclass(frozen=True)
class Holiday:
    """A day closed all day (no `hours`) or open only during `hours`."""

    day: date
    name: str | None = None
    hours: tuple[TimeRange, ...] = ()


def parse_time_range(text: str) -> TimeRange:
    """Parse "HH:MM-HH:MM"; raise ValueError with a message a designer can act on."""
    match = _RANGE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a range like '08:00-20:00', got {text!r}")
    sh, sm, eh, em = (int(group) for group in match.groups())
    start, end = _to_minutes(sh, sm, text), _to_minutes(eh, em, text)
    if end == start:
        raise ValueError(f"range {text!r} is empty")
    if end < start:
        raise ValueError(
            f"overnight range {text!r} is not supported: split it at midnight, "
            f"e.g. '{_format_minutes(start)}-24:00' and '00:00-{_format_minutes(end)}' the next day"
        )
    return TimeRange(start, end)


def check_ranges(ranges: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
    """Return `ranges` sorted; raise ValueError if two of them overlap (usually a typo)."""
    ordered = tuple(sorted(ranges))
    for earlier, later in pairwise(ordered):
        if later.start < earlier.end:
            raise ValueError(f"ranges {earlier} and {later} overlap")
    return ordered


@dataclass(frozen=True)
class Schedule:
    """Named weekly opening hours in one time zone. `weekly[0]` is Monday."""

    name: str
    timezone: ZoneInfo
    weekly: tuple[tuple[TimeRange, ...], ...]
    holidays: tuple[Holiday, ...] = ()

    def __post_init__(self) -> None:
        if len(self.weekly) != len(WEEKDAYS):
            raise ValueError(f"schedule {self.name!r} needs 7 weekdays, got {len(self.weekly)}")

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(r.contains(minute) for r in self.hours_on(local.date()))

    def next_open(self, at: datetime) -> datetime | None:
        """Start of the next opening at/after `at`, in the schedule's zone; `at` if open now."""
        local = self._local(at)
        if self.is_open(local):
            return local
        # Compare in UTC: datetimes sharing a tzinfo compare by wall clock, ignoring `fold`.
        after = local.astimezone(timezone.utc)
        for offset in range(NEXT_OPEN_HORIZON_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            starts = (
                opening
                for r in self.hours_on(day)
                for opening in self._instants(day, r.start)
                if opening > after
            )
            first = min(starts, default=None)
            if first is not None:
                return first.astimezone(self.timezone)
        return None

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) during which the schedule is open (0 when end <= start)."""
        if end <= start:
            return 0.0
        first, last = self._local(start).date(), self._local(end).date()
        total = 0.0
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            for r in self.hours_on(day):
                opens, closes = self._instant(day, r.start), self._instant(day, r.end)
                overlap = min(closes, end) - max(opens, start)
                total += max(0.0, overlap.total_seconds())
        return total

    def holiday_name(self, at: datetime) -> str | None:
        holiday = self._holiday(self._local(at).date())
        return holiday.name if holiday else None

    def hours_on(self, day: date) -> tuple[TimeRange, ...]:
        """Opening ranges of a local calendar day, holidays applied."""
        holiday = self._holiday(day)
        if holiday is not None:
            return holiday.hours
        return self.weekly[day.weekday()]

    def _holiday(self, day: date) -> Holiday | None:
        return next((h for h in self.holidays if h.day == day), None)

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"schedule {self.name!r} needs a timezone-aware datetime, got {at}")
        return at.astimezone(self.timezone)

    def _instant(self, day: date, minute: int) -> datetime:
        """The first UTC instant at which local `day` shows `minute` (24:00: the next midnight)."""
        if minute >= _MINUTES_PER_DAY:
            return self._instant(day + timedelta(days=1), 0)
        return min(self._instants(day, minute) or {self._next_midnight(day)})

    def _next_midnight(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(0), self.timezone).astimezone(
            timezone.utc
        )

    def _instants(self, day: date, minute: int) -> set[datetime]:
        """UTC instants at which the wall clock of local `day` shows `minute`.

        Two in the repeated autumn hour; the switch itself when `minute` falls in the hour
        skipped in spring.
        """
        while minute < _MINUTES_PER_DAY:
            wall = datetime.combine(day, time(minute // 60, minute % 60))
            found = {
                instant.astimezone(timezone.utc)
                for fold in (0, 1)
                if _exists(wall, instant := wall.replace(tzinfo=self.timezone, fold=fold))
            }
            if found:
                return found
            minute += 1
        return set()


def _exists(wall: datetime, aware: datetime) -> bool:
    """False for wall-clock times skipped by a DST switch: they do not survive a round trip."""
    round_trip = aware.astimezone(timezone.utc).astimezone(aware.tzinfo)
    return round_trip.replace(tzinfo=None) == wall


def _to_minutes(hour: int, minute: int, text: str) -> int:
    if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
        raise ValueError(f"invalid time in {text!r}: use 00:00 to 24:00")
    return hour * 60 + minute


def _format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
