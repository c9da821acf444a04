"""Snoozing a conversation: the columns that start and end a snooze, shared by the agents'
service (snooze, unsnooze, the wake-up timer) and the ingest (a customer's reply wakes it).

The first-response SLA is paused while a conversation is snoozed: when it wakes, a due time
not yet met moves on by the time it slept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handoff.models import Conversation

MAX_SNOOZE = timedelta(days=90)


def wake_values(row: Conversation, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "snoozed_at": None,
        "snoozed_until": None,
        "snooze_note": None,
        "snoozed_by_agent_id": None,
    }
    if row.snoozed_at and row.sla_due_at and row.first_response_at is None:
        values["sla_due_at"] = row.sla_due_at + max(timedelta(0), now - row.snoozed_at)
    return values
