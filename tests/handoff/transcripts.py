"""A stored conversation with every kind of row that holds customer data, at chosen times
(for the retention and erasure tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.models import Assignment, Conversation, IntakeRequest, Message, Note
from handoff.states import Status


@dataclass(frozen=True)
class Stored:
    pk: str
    sender_id: str
    message_ids: tuple[str, ...]


async def store_transcript(
    sessions: async_sessionmaker[AsyncSession],
    at: datetime,
    status: Status = Status.RESOLVED,
    sender_id: str | None = None,
    agent_id: str | None = None,
) -> Stored:
    """A conversation created at `at` with a customer line, a bot line and an agent line a
    minute apart, a note, a transfer note and an intake key; last changed 10 minutes after `at`."""
    sender_id = sender_id or f"4479{uuid.uuid4().int % 10**8:08d}"
    pk = uuid.uuid4().hex
    lines = [
        ("customer", "Ana Silva", "My card 4111 1111 1111 1111 was charged twice", "m-1"),
        ("bot", None, "Thanks Ana, I'm getting a person.", None),
        ("agent", "Dana", "Hi Ana, I have refunded order LH20481937.", "wamid.A1"),
    ]
    async with sessions.begin() as session:
        session.add(
            Conversation(
                id=pk,
                conversation_id=sender_id,
                channel="whatsapp",
                customer_id=sender_id,
                customer_name="Ana Silva",
                status=status.value,
                team="billing",
                tags=["billing"],
                triage_topic="billing",
                triage_description="charged twice on my card",
                triage_reference="ACC-482913",
                queued_at=at,
                resolved_at=at + timedelta(minutes=10) if status is Status.RESOLVED else None,
                created_at=at,
                updated_at=at + timedelta(minutes=10),
                last_seq=len(lines),  # the lines below take 1..n
            )
        )
        await session.flush()
        ids = []
        for number, (author, name, text, channel_id) in enumerate(lines):
            message = Message(
                id=uuid.uuid4().hex,
                seq=number + 1,
                conversation_id=pk,
                author_type=author,
                author_name=name,
                author_agent_id=agent_id if author == "agent" else None,
                text=text,
                attachments=[{"type": "image", "url": "https://x.example/a.jpg"}],
                channel_message_id=channel_id,
                dedupe_key=f"k-{number}-{text}",
                intent="billing_problem" if author == "customer" else None,
                frustration_score=0.4 if author == "customer" else None,
                delivery_status="read" if author == "agent" else None,
                created_at=at + timedelta(minutes=number + 1),
            )
            session.add(message)
            ids.append(message.id)
        session.add(Note(conversation_id=pk, text="Ana's card ends 1111", created_at=at))
        session.add(
            Assignment(conversation_id=pk, action="transfer_team", note="call Ana back", at=at)
        )
        session.add(IntakeRequest(idempotency_key=uuid.uuid4().hex, conversation_id=pk))
    return Stored(pk, sender_id, tuple(ids))


async def count_rows(sessions: async_sessionmaker[AsyncSession], pk: str) -> dict[str, int]:
    """Rows of each table that belong to the conversation `pk`."""
    tables = {
        "conversations": (Conversation, Conversation.id),
        "messages": (Message, Message.conversation_id),
        "notes": (Note, Note.conversation_id),
        "assignments": (Assignment, Assignment.conversation_id),
        "intake_requests": (IntakeRequest, IntakeRequest.conversation_id),
    }
    async with sessions() as session:
        return {
            name: await session.scalar(select(func.count()).select_from(model).where(column == pk))
            or 0
            for name, (model, column) in tables.items()
        }
