"""Volume spikes against a seasonal baseline (docs/alerts.md). Pure.

The volume of the last `window` (handoffs per team) is compared with the same window of the
same weekday and hour in each of the previous `weeks` weeks: the baseline is their mean (a
seasonal moving average), so a Monday-morning peak is compared with earlier Monday mornings and
does not alert, while a burst far over what that hour usually brings does. A spike needs at
least `min_volume` handoffs in the window and `factor` times the baseline (a baseline under one
handoff counts as one, so a new team's first busy hour needs `min_volume` anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SpikeRule:
    factor: float = 3.0
    min_volume: int = 20
    window: timedelta = timedelta(minutes=15)
    weeks: int = 4


@dataclass(frozen=True)
class Spike:
    volume: int
    baseline: float
    ratio: float


def windows(now: datetime, rule: SpikeRule) -> list[tuple[datetime, datetime]]:
    """The current window first, then the same window 1..weeks weeks earlier."""
    return [(now - rule.window - week * WEEK, now - week * WEEK) for week in range(rule.weeks + 1)]


def spike(volume: int, earlier: Sequence[int], rule: SpikeRule) -> Spike | None:
    """A spike when `volume` (the current window) is over the rule; `earlier` are the same
    windows in previous weeks."""
    baseline = sum(earlier) / len(earlier) if earlier else 0.0
    ratio = volume / max(baseline, 1.0)
    if volume >= rule.min_volume and ratio >= rule.factor:
        return Spike(volume, round(baseline, 2), round(ratio, 1))
    return None
