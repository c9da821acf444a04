"""Resolved conversations written straight into the handoff store, as the service leaves them:
for suggested responses' tests, benchmark and evaluation (a transcript per conversation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.models import Conversation, Message, new_id, utc_now


@dataclass(frozen=True)
class Past:
    """A conversation: its triage and customer, and its lines as (author type, text)."""

    topic: str
    lines: Sequence[tuple[str, str]]
    customer_name: str | None = None
    reference: str | None = None
    device: str | None = None
    language: str = "en"
    team: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    status: str = "resolved"


def conversation_row(past: Past, at: datetime) -> dict[str, object]:
    pk = new_id()
    return {
        "id": pk,
        "conversation_id": f"past-{pk}",
        "channel": "webchat",
        "customer_id": f"past-{pk}",
        "customer_name": past.customer_name,
        "customer_language": past.language,
        "status": past.status,
        "team": past.team,
        "tags": [past.topic],
        "reasons": [],
        "triage_topic": past.topic,
        "triage_reference": past.reference,
        "triage_device_name": past.device,
        "frustration_score": 0.0,
        "frustration_signals": [],
        "assigned_agent_id": None if past.status == "resolved" else past.agent_id,
        "created_at": at,
        "updated_at": at,
        "resolved_at": at + timedelta(minutes=len(past.lines))
        if past.status == "resolved"
        else None,
        "last_seq": len(past.lines),
        "version": 1,
    }


def message_rows(pk: str, past: Past, at: datetime) -> list[dict[str, object]]:
    return [
        {
            "id": new_id(),
            "seq": seq,
            "conversation_id": pk,
            "author_type": author,
            "author_name": past.agent_name if author == "agent" else None,
            "author_agent_id": past.agent_id if author == "agent" else None,
            "text": text,
            "attachments": [],
            "dedupe_key": new_id(),
            "frustration_signals": [],
            "created_at": at + timedelta(seconds=seq),
        }
        for seq, (author, text) in enumerate(past.lines, start=1)
    ]


async def store_past(
    sessions: async_sessionmaker[AsyncSession],
    conversations: Sequence[Past],
    at: datetime | None = None,
) -> list[str]:
    """Write the conversations (a second apart, ending near `at`); their primary keys."""
    start = (at or utc_now()) - timedelta(seconds=len(conversations))
    rows, lines = [], []
    for number, past in enumerate(conversations):
        row = conversation_row(past, start + timedelta(seconds=number))
        rows.append(row)
        lines += message_rows(str(row["id"]), past, start + timedelta(seconds=number))
    async with sessions.begin() as session:
        await session.execute(insert(Conversation), rows)
        if lines:
            await session.execute(insert(Message), lines)
    return [str(row["id"]) for row in rows]
