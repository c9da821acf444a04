"""Made-up shifts of the demo agents for the seeded history (`handoff.cli seed-history`), so
the online and idle figures have something to show on a first start (docs/kpis.md, "Presence
time").

Agents alternate an early and a late shift on weekdays with a break away in the middle, and half
of them work a shorter weekend day. Only whole days before today are written: the agents' real
changes of today stay as they are, and each seeded day ends offline.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

EARLY, LATE, WEEKEND = (7.0, 15.5), (13.5, 22.0), (10.0, 16.0)  # hours of the day


def shift_changes(
    rng: random.Random, agents: Sequence[str], start: datetime, days: int
) -> Iterator[dict[str, Any]]:
    """`agent_presence_changes` rows for `days` days from midnight `start`."""
    for day in range(days):
        midnight = start + timedelta(days=day)
        weekend = midnight.weekday() >= 5
        for number, agent in enumerate(agents):
            if weekend and (number + day) % 2:
                continue
            begin, end = WEEKEND if weekend else (EARLY, LATE)[(number + day // 7) % 2]
            on = midnight + timedelta(hours=begin, minutes=rng.uniform(-20, 20))
            off = midnight + timedelta(hours=end, minutes=rng.uniform(-20, 20))
            pause = on + (off - on) / 2 + timedelta(minutes=rng.uniform(-45, 45))
            back = pause + timedelta(minutes=rng.uniform(20, 45))
            for presence, at in (
                ("online", on),
                ("away", pause),
                ("online", back),
                ("offline", off),
            ):
                yield {"agent_id": agent, "presence": presence, "at": at}
