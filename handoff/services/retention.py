"""Retention: transcripts of conversations that ended are deleted or anonymised after
RETENTION_DAYS (RETENTION_MODE `delete` or `anonymise`).

A conversation is due when it is resolved or back with the bot, nothing about it changed since
the cutoff and no line is newer than the cutoff. Anonymising keeps the structure the KPIs need
(statuses and their times, priority, team, tags, who wrote each line and when, intents,
frustration readings, delivery statuses) and removes what identifies or quotes the customer:
every line's text and attachments, the customer's id and name, the Rasa sender id (replaced by
`anonymised:<id>`), the triage free text, notes and transfer notes, the intake keys.

Every change is a conditional statement that repeats the "due" test, in one transaction per
batch, so several instances running it at once never process a conversation twice, and a
conversation that became active again in the meantime is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from handoff.models import (
    Assignment,
    Conversation,
    HandoverNote,
    IntakeRequest,
    Message,
    Note,
    PendingReply,
    SuggestionEntry,
    WebhookDelivery,
    utc_now,
)
from handoff.repositories import status_in
from handoff.services import customers
from handoff.states import Status

logger = logging.getLogger(__name__)

ENDED = (Status.RESOLVED, Status.BOT)
ANONYMISED_PREFIX = "anonymised:"
BATCH_SIZE = 200


@dataclass(frozen=True)
class RetentionPolicy:
    days: int
    mode: str  # "delete" or "anonymise" (settings.RETENTION_MODES)

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


@dataclass(frozen=True)
class RetentionReport:
    mode: str
    cutoff: datetime
    dry_run: bool
    conversations: int = 0
    messages: int = 0
    notes: int = 0

    def summary(self) -> str:
        verb = {"delete": "deleted", "anonymise": "anonymised"}[self.mode]
        if self.dry_run:
            verb = f"would be {verb} (dry run: nothing changed)"
        return (
            f"{self.conversations} conversations, {self.messages} messages, {self.notes} notes"
            f" {verb}; ended and inactive since before {self.cutoff.isoformat(timespec='seconds')}"
        )


def due(cutoff: datetime, mode: str) -> list[ColumnElement[bool]]:
    """The WHERE clause of a conversation whose transcript is due at `cutoff`."""
    newer_line = (
        exists()
        .where(Message.conversation_id == Conversation.id)
        .where(Message.created_at >= cutoff)
    )
    conditions = [
        status_in(ENDED),
        Conversation.updated_at < cutoff,
        Conversation.created_at < cutoff,
        ~newer_line,
    ]
    if mode == "anonymise":
        conditions.append(Conversation.anonymised_at.is_(None))
    return conditions


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    policy: RetentionPolicy,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> RetentionReport:
    """Delete or anonymise every transcript due at `now`; what was (or would be) changed."""
    now = now or utc_now()
    cutoff = policy.cutoff(now)
    report = RetentionReport(policy.mode, cutoff, dry_run)
    conditions = due(cutoff, policy.mode)
    if dry_run:
        async with sessions() as session:
            due_ids = select(Conversation.id).where(*conditions)
            total = await session.scalar(select(func.count()).select_from(due_ids.subquery()))
            messages = await _per_conversation(session, Message, due_ids)
            notes = await _per_conversation(session, Note, due_ids)
        return replace(
            report,
            conversations=total or 0,
            messages=sum(messages.values()),
            notes=sum(notes.values()),
        )
    step = _delete if policy.mode == "delete" else _anonymise
    while True:
        async with sessions.begin() as session:
            query = select(Conversation.id).where(*conditions).limit(batch_size)
            ids = list((await session.scalars(query)).all())
            if not ids:
                break
            # Counted first: deleted rows go with their conversation (ON DELETE CASCADE).
            messages = await _per_conversation(session, Message, ids)
            notes = await _per_conversation(session, Note, ids)
            changed = await step(session, ids, conditions, now)
            await customers.forget(session, changed)
            outbox = WebhookDelivery.conversation_id.in_(changed)  # bodies carry the lines
            await session.execute(_bulk(delete(WebhookDelivery).where(outbox)))
            mined = SuggestionEntry.conversation_id.in_(changed)  # replies suggested from them
            await session.execute(_bulk(delete(SuggestionEntry).where(mined)))
            report = replace(
                report,
                conversations=report.conversations + len(changed),
                messages=report.messages + sum(messages.get(pk, 0) for pk in changed),
                notes=report.notes + sum(notes.get(pk, 0) for pk in changed),
            )
        if len(ids) < batch_size:
            break
    if report.conversations:
        logger.info("Retention: %s", report.summary())
    return report


async def _per_conversation(
    session: AsyncSession,
    model: type[Message] | type[Note],
    ids: Sequence[str] | Select[tuple[str]],
) -> dict[str, int]:
    """How many rows of `model` each of the conversations `ids` has."""
    query = (
        select(model.conversation_id, func.count())
        .where(model.conversation_id.in_(ids))
        .group_by(model.conversation_id)
    )
    return dict((await session.execute(query)).tuples().all())


async def _delete(
    session: AsyncSession, ids: Sequence[str], conditions: list[ColumnElement[bool]], now: datetime
) -> list[str]:
    statement = (
        delete(Conversation)
        .where(Conversation.id.in_(ids), *conditions)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(statement)).scalars())


async def _anonymise(
    session: AsyncSession, ids: Sequence[str], conditions: list[ColumnElement[bool]], now: datetime
) -> list[str]:
    claim = (
        update(Conversation)
        .where(Conversation.id.in_(ids), *conditions)
        .values(
            anonymised_at=now,
            conversation_id=literal(ANONYMISED_PREFIX) + Conversation.id,
            customer_id=None,
            customer_name=None,
            triage_description=None,
            triage_reference=None,
            triage_device_name=None,
            version=Conversation.version + 1,
        )
        .returning(Conversation.id)
    )
    claimed = list((await session.execute(_bulk(claim))).scalars())
    if not claimed:
        return claimed
    lines = Message.conversation_id.in_(claimed)
    blank_line: dict[str, Any] = {
        "text": "",
        "attachments": [],
        "channel_message_id": None,
        "reaction_to": None,
        "delivery_error": None,
        "dedupe_key": literal(ANONYMISED_PREFIX) + Message.id,
    }
    await session.execute(_bulk(update(Message).where(lines).values(**blank_line)))
    customer_lines = update(Message).where(lines, Message.author_type == "customer")
    await session.execute(_bulk(customer_lines.values(author_name=None)))
    notes = update(Note).where(Note.conversation_id.in_(claimed))
    await session.execute(_bulk(notes.values(text="")))
    transfers = update(Assignment).where(Assignment.conversation_id.in_(claimed))
    await session.execute(_bulk(transfers.values(note=None)))
    handovers = update(HandoverNote).where(HandoverNote.conversation_id.in_(claimed))
    await session.execute(_bulk(handovers.values(text="")))
    unsent = update(PendingReply).where(PendingReply.conversation_id.in_(claimed))
    await session.execute(_bulk(unsent.values(text="", comment=None)))
    await session.execute(delete(IntakeRequest).where(IntakeRequest.conversation_id.in_(claimed)))
    return claimed


def _bulk(statement: Any) -> Any:
    return statement.execution_options(synchronize_session=False)


async def run_retention(
    sessions: async_sessionmaker[AsyncSession],
    policy: RetentionPolicy,
    every_seconds: float,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """Apply the policy now and then every `every_seconds`; a failed round is logged and the
    next one tries again (each round is safe to run on several instances at once)."""
    while True:
        try:
            await apply_retention(sessions, policy, clock())
        except Exception:
            logger.exception("Retention round failed; retrying in %s s", every_seconds)
        await sleep(every_seconds)
