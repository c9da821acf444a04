"""Erasing one customer everywhere the product stores them, with an audit record.

The customer is a Rasa sender id (the key every store shares). An erasure is an `erasure_audit`
row, `pending` until both sides are done:

1. the bot side first: `POST {DELIVERY_URL}/webhooks/erasure/erase` (bearer `ERASURE_TOKEN`,
   `connectors/erasure/`) deletes Rasa's tracker, the event broker rows (which this service
   tails: deleting them first means the tail cannot bring the transcript back), the connectors'
   state and the action server's outbox; it is idempotent, so a failed or unanswered call is
   simply repeated, with backoff, by whichever instance holds the record's lease;
2. then, in one transaction with the record's completion, this store: the conversation with
   its lines (and their delivery records), notes, assignment history and intake keys.

The record keeps who asked, when, a keyed hash of the sender id (HMAC-SHA256 with
ERASURE_TOKEN), the rows removed per store and the outcome; the sender id itself only while the
erasure is pending (it is needed to retry), never the customer's data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.db import affected_rows
from handoff.errors import Invalid, NotFound, ServiceError
from handoff.http import RetryPolicy, Unreachable, post
from handoff.models import (
    Assignment,
    Conversation,
    DeadLetter,
    ErasureAudit,
    IntakeRequest,
    Message,
    Note,
    WebhookDelivery,
    utc_now,
)
from handoff.services import customers
from handoff.views import JSON, iso

logger = logging.getLogger(__name__)

ERASE_PATH = "/webhooks/erasure/erase"
PENDING, DONE = "pending", "done"
LEASE = timedelta(minutes=2)  # longer than one bot call (10 s timeout)
MAX_BACKOFF = timedelta(hours=1)
MAX_SENDER_ID = 1000
ONE_TRY = RetryPolicy(attempts=1)  # retries are durable: rescheduled in the audit record


class ErasureUnavailable(ServiceError):
    status, code = 503, "erasure_unavailable"


@dataclass(frozen=True)
class Requester:
    """Who asked: an agent (id and e-mail) or an operator at the CLI (`cli:<user>`)."""

    label: str
    agent_id: str | None = None


class BotSideError(Exception):
    """The bot side did not erase (unreachable, 5xx, or refused); the message has no data."""


class ErasureService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        bot_url: str,
        token: str,
        policy: RetryPolicy = ONE_TRY,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.url = bot_url.rstrip("/") + ERASE_PATH
        self.token = token
        self.policy = policy
        self.clock = clock

    def customer_hash(self, sender_id: str) -> str:
        return hmac.new(self.token.encode(), sender_id.encode(), hashlib.sha256).hexdigest()

    async def request(
        self,
        requester: Requester,
        *,
        conversation_pk: str | None = None,
        sender_id: str | None = None,
    ) -> JSON:
        """Record an erasure of the customer of a conversation (our id) or of a Rasa sender id,
        and try it at once; the record as it is then (`done`, or `pending` to be retried)."""
        if not self.token:
            raise ErasureUnavailable(
                "ERASURE_TOKEN is not configured, so the bot's stores cannot be erased."
            )
        sender_id = await self._sender_of(conversation_pk, sender_id)
        now = self.clock()
        audit = ErasureAudit(
            customer_key_hash=self.customer_hash(sender_id),
            requested_by=requester.label,
            requested_by_agent_id=requester.agent_id,
            requested_at=now,
            status=PENDING,
            counts={},
            attempts=0,
            next_attempt_at=now,
            pending_sender_id=sender_id,
        )
        async with self.sessions.begin() as session:
            session.add(audit)
        await self.attempt(audit.id)
        return await self.get(audit.id)

    async def _sender_of(self, conversation_pk: str | None, sender_id: str | None) -> str:
        if conversation_pk is not None and sender_id is None:
            async with self.sessions() as session:
                row = await session.get(Conversation, conversation_pk)
            if row is None:
                raise NotFound(f"No conversation {conversation_pk!r}.", "conversation_not_found")
            return row.conversation_id
        if sender_id is None or conversation_pk is not None:
            raise Invalid("Give either conversation_id or sender_id.", "conversation_or_sender")
        if not sender_id.strip() or len(sender_id) > MAX_SENDER_ID:
            raise Invalid(f"sender_id must be 1..{MAX_SENDER_ID} characters.", "invalid_sender")
        return sender_id

    async def get(self, audit_id: str) -> JSON:
        async with self.sessions() as session:
            row = await session.get(ErasureAudit, audit_id, populate_existing=True)
        if row is None:
            raise NotFound(f"No erasure {audit_id!r}.", "erasure_not_found")
        return audit_view(row)

    async def history(self, sender_id: str | None = None, limit: int = 100) -> list[JSON]:
        """The newest erasure records, optionally only those of one sender id."""
        query = select(ErasureAudit).order_by(ErasureAudit.requested_at.desc()).limit(limit)
        if sender_id is not None:
            query = query.where(ErasureAudit.customer_key_hash == self.customer_hash(sender_id))
        async with self.sessions() as session:
            return [audit_view(row) for row in await session.scalars(query)]

    async def attempt(self, audit_id: str) -> bool:
        """Try a pending erasure if no other instance holds it; whether it is now done."""
        now = self.clock()
        sender_id = await self._lease(audit_id, now)
        if sender_id is None:
            return False
        try:
            bot_counts = await self._erase_bot_side(sender_id)
        except BotSideError as error:
            await self._failed(audit_id, now, str(error))
            return False
        await self._erase_here(audit_id, sender_id, bot_counts)
        return True

    async def retry_due(self) -> int:
        """Attempt every pending erasure whose next attempt is due; how many got done."""
        query = select(ErasureAudit.id).where(
            ErasureAudit.status == PENDING, ErasureAudit.next_attempt_at <= self.clock()
        )
        async with self.sessions() as session:
            due = list((await session.scalars(query.order_by(ErasureAudit.requested_at))).all())
        return sum([await self.attempt(audit_id) for audit_id in due])

    async def _lease(self, audit_id: str, now: datetime) -> str | None:
        """Take the record for LEASE (a conditional UPDATE: one instance wins); its sender id."""
        async with self.sessions.begin() as session:
            won = await affected_rows(
                session,
                update(ErasureAudit)
                .where(
                    ErasureAudit.id == audit_id,
                    ErasureAudit.status == PENDING,
                    or_(ErasureAudit.lease_until.is_(None), ErasureAudit.lease_until < now),
                )
                .values(lease_until=now + LEASE)
                .execution_options(synchronize_session=False),
            )
            if won != 1:
                return None
            return await session.scalar(
                select(ErasureAudit.pending_sender_id).where(ErasureAudit.id == audit_id)
            )

    async def _erase_bot_side(self, sender_id: str) -> dict[str, Any]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Message.id, Message.channel_message_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.conversation_id == sender_id)
            )
            ids = sorted({value for row in rows for value in row if value})
        headers = {"Authorization": f"Bearer {self.token}"}
        body = {"sender_id": sender_id, "message_ids": ids}
        try:
            answer = await post(self.http, self.url, body, self.policy, headers=headers)
        except Unreachable as error:
            raise BotSideError(f"bot side unreachable ({error})") from None
        counts = answer.body.get("counts") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(counts, dict):
            code = answer.body.get("error") if isinstance(answer.body, dict) else None
            raise BotSideError(f"bot side answered HTTP {answer.status} {code or ''}".strip())
        return counts

    async def _failed(self, audit_id: str, now: datetime, error: str) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(ErasureAudit, audit_id, populate_existing=True)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error
            row.lease_until = None
            row.next_attempt_at = now + min(MAX_BACKOFF, timedelta(seconds=30 * 2**row.attempts))
        logger.warning("Erasure %s not done yet (attempt %d): %s", audit_id, row.attempts, error)

    async def _erase_here(self, audit_id: str, sender_id: str, bot_counts: dict[str, Any]) -> None:
        async with self.sessions.begin() as session:
            pks = select(Conversation.id).where(Conversation.conversation_id == sender_id)
            counts = {
                name: await _count(session, model, column.in_(pks))
                for name, model, column in (
                    ("messages", Message, Message.conversation_id),
                    ("notes", Note, Note.conversation_id),
                    ("assignments", Assignment, Assignment.conversation_id),
                    ("intake_requests", IntakeRequest, IntakeRequest.conversation_id),
                )
            }
            # the webhook outbox's bodies carry the transcript's lines
            counts["webhook_deliveries"] = await affected_rows(
                session, delete(WebhookDelivery).where(WebhookDelivery.conversation_id.in_(pks))
            )
            await customers.drop_identities_of(session, pks)
            counts["customers"] = await customers.forget(session, pks)
            deleted = await affected_rows(
                session, delete(Conversation).where(Conversation.conversation_id == sender_id)
            )
            letters = await affected_rows(
                session, delete(DeadLetter).where(DeadLetter.conversation_id == sender_id)
            )
            counts = {
                "conversations": deleted,
                "dead_letters": letters,
                **counts,
            }
            row = await session.get(ErasureAudit, audit_id, populate_existing=True)
            if row is None:
                return
            row.status = DONE
            row.counts = {"handoff_store": counts, **bot_counts}
            row.attempts += 1
            row.last_error = None
            row.lease_until = None
            row.next_attempt_at = None
            row.completed_at = self.clock()
            row.pending_sender_id = None
        logger.info("Erasure %s done: %s", audit_id, row.counts)


async def _count(session: AsyncSession, model: type[Any], condition: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def audit_view(row: ErasureAudit) -> JSON:
    return {
        "id": row.id,
        "status": row.status,
        "customer_key_hash": row.customer_key_hash,
        "requested_by": row.requested_by,
        "requested_by_agent_id": row.requested_by_agent_id,
        "requested_at": iso(row.requested_at),
        "completed_at": iso(row.completed_at),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": iso(row.next_attempt_at),
        "counts": row.counts,
    }


async def run_erasure_retries(
    service: ErasureService,
    every_seconds: float,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """Retry pending erasures forever; a failed round is logged and the next one tries again."""
    while True:
        try:
            await service.retry_due()
        except Exception:
            logger.exception("Erasure retry round failed; retrying in %s s", every_seconds)
        await sleep(every_seconds)
