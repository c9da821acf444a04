"""The transcript an agent reads, built from the tracker events Rasa sends the action server.

The lines and how each event becomes one are the contract shared with the handoff service
(`contracts/transcript.py`): every line carries its author type, `customer` lines their
attachments, reactions and channel notices. All sessions in the events are included; note that
Rasa's SQL tracker store sends only the latest session to actions, so the handoff service's own
copy of the event stream stays the complete record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts.transcript import Event, Line, build_transcript, merge_frustration
from contracts.values import format_time

__all__ = [
    "build_transcript",
    "current_session",
    "iso_utc",
    "merge_frustration",
    "peak_frustration",
]


def iso_utc(timestamp: float | None) -> str | None:
    """A Rasa event timestamp (seconds since the epoch) as ISO-8601 UTC, e.g. ...T08:00:00.000Z."""
    return None if timestamp is None else format_time(timestamp)


def current_session(events: list[Event]) -> list[Event]:
    """The events of the latest session (all of them if there is no `session_started`).

    Rasa logs what `action_session_start` says (the welcome) before the `session_started` event
    that action returns, so those bot lines are taken as the start of the session they open.
    """
    starts = [i for i, event in enumerate(events) if event.get("event") == "session_started"]
    if not starts:
        return events
    start = opening = starts[-1]
    while opening > 0 and events[opening - 1].get("event") == "bot":
        opening -= 1
    before = events[opening - 1] if opening > 0 else {}
    if before.get("event") == "action" and before.get("name") == "action_session_start":
        start = opening
    return events[start:]


def peak_frustration(lines: Iterable[Line]) -> dict[str, Any]:
    """The customer's strongest frustration reading in `lines`, with every signal seen."""
    merged = merge_frustration(*(line.get("frustration") for line in lines))
    return merged or {"score": 0.0, "signals": []}
