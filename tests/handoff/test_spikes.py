"""The volume spike detector on a synthetic series with weekly seasonality plus a burst: it
alerts on the burst within minutes, never on the seasonal peaks."""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import datetime, timedelta, timezone

from handoff.services.spikes import SpikeRule, spike, windows

START = datetime(2026, 10, 5, tzinfo=timezone.utc)  # a Monday; five weeks of history follow
STEP = timedelta(minutes=5)
RULE = SpikeRule(factor=3.0, min_volume=20, window=timedelta(minutes=15), weeks=4)
BURST_START = START + timedelta(weeks=4, days=2, hours=14)  # Wednesday of week 5, 14:00
BURST = timedelta(minutes=30)


def hourly_rate(moment: datetime) -> float:
    """Handoffs per hour: quiet nights, busy working hours, Monday 09-11 three times busier."""
    hour, weekday = moment.hour, moment.weekday()
    rate = 4.0 if hour < 7 or hour >= 21 else 40.0
    if weekday >= 5:
        rate /= 2
    if weekday == 0 and 9 <= hour < 11:
        rate *= 3
    return rate


def synthetic_events(burst_factor: float) -> list[datetime]:
    """Five weeks of handoff times, Poisson-like around the seasonal rate, plus the burst."""
    rng = random.Random(7)
    events = []
    moment = START
    while moment < START + timedelta(weeks=5):
        rate = hourly_rate(moment) * STEP.total_seconds() / 3600
        if BURST_START <= moment < BURST_START + BURST:
            rate *= burst_factor
        trials = int(rate * 4) + 4  # binomial draws with mean `rate`
        count = sum(1 for _ in range(trials) if rng.random() < rate / trials)
        events.extend(moment + STEP * rng.random() for _ in range(count))
        moment += STEP
    return sorted(events)


def evaluate(events: list[datetime], now: datetime):
    def count(start: datetime, end: datetime) -> int:
        return bisect_left(events, end) - bisect_left(events, start)

    current, *earlier = (count(start, end) for start, end in windows(now, RULE))
    return spike(current, earlier, RULE)


def alerting_times(burst_factor: float) -> list[datetime]:
    events = synthetic_events(burst_factor)
    week5 = START + timedelta(weeks=4)
    checks = [week5 + STEP * i for i in range(int(timedelta(weeks=1) / STEP))]
    return [now for now in checks if evaluate(events, now) is not None]


def test_a_100x_burst_alerts_within_minutes_and_only_while_it_lasts():
    alerts = alerting_times(100.0)
    assert alerts, "the burst was not detected"
    assert alerts[0] <= BURST_START + timedelta(minutes=5)
    # every alerting check falls in the burst or the window right after it
    assert all(BURST_START < now <= BURST_START + BURST + RULE.window for now in alerts)


def test_seasonal_peaks_alone_never_alert():
    assert alerting_times(1.0) == []


def test_monday_peak_is_judged_against_earlier_mondays_not_the_night():
    events = synthetic_events(1.0)
    monday_peak = START + timedelta(weeks=4, hours=10)
    assert evaluate(events, monday_peak) is None
    # the same volume at night, against a night baseline, is a spike
    night = spike(30, [1, 0, 2, 1], RULE)
    assert night is not None and night.ratio == 30.0


def test_a_spike_needs_the_minimum_volume():
    assert spike(19, [0, 0, 0, 0], RULE) is None
    assert spike(20, [0, 0, 0, 0], RULE) is not None
    assert spike(20, [7, 7, 7, 7], RULE) is None  # under 3x the baseline of 7
