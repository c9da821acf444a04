"""The transcript an agent reads, built from the tracker events Rasa sends the action server.

Pure functions over the event dicts of `rasa.shared.core.events.Event.as_dict()`. Every line
carries its author type: `customer` (user events), `bot`, or whatever a bot event's metadata says
(`agent` with an `author_name` for agent messages recorded in the tracker). All sessions in the
events are included; note that Rasa's SQL tracker store sends only the latest session to actions,
so the handoff service's own copy of the event stream stays the complete record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

Event = dict[str, Any]
Line = dict[str, Any]


def iso_utc(timestamp: float | None) -> str | None:
    """A Rasa event timestamp (seconds since the epoch) as ISO-8601 UTC, e.g. ...T08:00:00.000Z."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def merge_frustration(*values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The highest score and the union of signals (in first-seen order) of several readings."""
    readings = [value for value in values if value]
    if not readings:
        return None
    signals: dict[str, None] = {}
    for reading in readings:
        signals.update(dict.fromkeys(reading.get("signals") or ()))
    return {
        "score": max(float(reading.get("score") or 0.0) for reading in readings),
        "signals": list(signals),
    }


def _customer_line(event: Event) -> Line | None:
    text = event.get("text")
    if not text:
        return None
    parse_data = event.get("parse_data") or {}
    return {
        "author_type": "customer",
        "text": text,
        "timestamp": iso_utc(event.get("timestamp")),
        "message_id": event.get("message_id"),
        "intent": (parse_data.get("intent") or {}).get("name"),
        "channel": event.get("input_channel"),
        "frustration": merge_frustration(parse_data.get("frustration")),
        "entities": parse_data.get("entities") or [],
        "payload": text.startswith("/"),
    }


def _bot_line(event: Event) -> Line | None:
    text = event.get("text")
    if not text:
        return None
    metadata = event.get("metadata") or {}
    line: Line = {
        "author_type": metadata.get("author_type", "bot"),
        "text": text,
        "buttons": (event.get("data") or {}).get("buttons") or [],
        "timestamp": iso_utc(event.get("timestamp")),
    }
    if metadata.get("author_name"):
        line["author_name"] = metadata["author_name"]
    return line


def build_transcript(events: Iterable[Event]) -> list[Line]:
    """Customer and bot/agent lines in event order, across every session in `events`.

    A `frustration` slot set after a user message (and before the next one) is the escalation
    policy's conversation-level reading of that message: it is merged into the message's line.
    """
    lines: list[Line] = []
    last_customer: Line | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            last_customer = _customer_line(event)
            if last_customer:
                lines.append(last_customer)
        elif kind == "bot":
            if line := _bot_line(event):
                lines.append(line)
        elif kind == "slot" and event.get("name") == "frustration" and last_customer:
            last_customer["frustration"] = merge_frustration(
                last_customer["frustration"], event.get("value")
            )
    return lines


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
