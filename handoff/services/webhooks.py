"""Outbound webhooks: admins register endpoints and pick events; every event is written to a
durable outbox (`webhook_deliveries`) in the same transaction as the change it reports, and a
background sender delivers it, signed, retried with backoff for hours, in order per
conversation (docs/webhooks.md).

- `record(session, event_type, conversation_pk, **data)` is the hook the services call inside
  their transaction: one outbox row per active endpoint that picked the event, with the exact
  JSON body that every attempt sends. Nothing is sent from the request.
- `WebhookSender.run_once()` sends what is due: for each endpoint (concurrently, each with a
  per-attempt timeout, on its own HTTP connection pool) the due deliveries oldest first, where a
  delivery waits while an older one of the same endpoint and conversation is still pending. The
  retry schedule is the `next_attempt_at` column, so it survives restarts; a lease (a conditional
  UPDATE) lets one sender at a time work on a delivery, so several instances can run it.
- `WebhookService`: the admins' API (endpoints, secrets, the delivery log, redeliver).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import event, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, aliased

from handoff import views
from handoff.db import affected_rows
from handoff.errors import Invalid, NotFound, found
from handoff.models import (
    Conversation,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
    utc_now,
)
from handoff.periodic import wait_until_set
from handoff.repositories import Messages
from handoff.services.views import load_conversation
from handoff.views import JSON, iso

logger = logging.getLogger(__name__)

EVENTS = (
    "handoff.created",
    "conversation.assigned",
    "message.created",
    "note.created",
    "conversation.transferred",
    "conversation.resolved",
    "conversation.reopened",
    "csat.answered",
    "sla.breached",
)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
SECRET_PREFIX = "whsec_"
ID_HEADER = "Lumen-Webhook-Id"
TIMESTAMP_HEADER = "Lumen-Webhook-Timestamp"
SIGNATURE_HEADER = "Lumen-Webhook-Signature"
EVENT_HEADER = "Lumen-Webhook-Event"
MAX_URL = 2000
MAX_DESCRIPTION = 200
MAX_ERROR = 500
BATCH = 200  # due deliveries of one endpoint looked at at once
PAUSING_STATUSES = (429, 503)
LEASE_MARGIN = timedelta(seconds=30)
WRITTEN = "webhook_deliveries_written"  # a session's info flag: wake the senders on commit
_running: set[asyncio.Event] = set()  # the wake-up events of this process's running senders


@event.listens_for(Session, "after_commit")
def _wake_senders(session: Session) -> None:
    """New outbox rows are visible now: running senders look at once, not at their next poll."""
    if session.info.pop(WRITTEN, False):
        for wake in _running:
            wake.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(WRITTEN, None)


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256, keyed with the endpoint's secret, of `<timestamp>.<body>`."""
    signed = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def record(
    session: AsyncSession,
    event_type: str,
    conversation_pk: str,
    more: Callable[[], Awaitable[JSON]] | None = None,
    **data: Any,
) -> int:
    """Put `event_type` about a conversation in the outbox of every active endpoint that picked
    it, in the caller's transaction: the event exists exactly when the change does. `data` (and
    what `more()` loads, only when some endpoint wants the event) joins the conversation's view
    in the body. How many deliveries were written."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    rows = await session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.active.is_(True))
    )
    targets = [endpoint_id for endpoint_id, events in rows if event_type in events]
    if not targets:
        return 0
    await _lock(session, conversation_pk)
    now = utc_now()
    event_id = new_id()
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "occurred_at": iso(now),
            "data": {
                "conversation": await load_conversation(session, conversation_pk),
                **data,
                **(await more() if more else {}),
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    session.sync_session.info[WRITTEN] = True
    session.add_all(
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            conversation_id=conversation_pk,
            body=body,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint_id in targets
    )
    await session.flush()
    return len(targets)


async def record_message(session: AsyncSession, conversation_pk: str, message_id: str) -> int:
    """`message.created` for a stored transcript line."""

    async def message() -> JSON:
        row = found(await Messages(session).get(message_id), "transcript line")
        return {"message": views.message(row)}

    return await record(session, "message.created", conversation_pk, message)


async def _lock(session: AsyncSession, conversation_pk: str) -> None:
    """Hold the conversation's row until commit (PostgreSQL), so the ids of its outbox rows follow
    the order the changes commit in. SQLite transactions are serial already (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(Conversation.id).where(Conversation.id == conversation_pk).with_for_update()
        )


@dataclass(frozen=True)
class SenderPolicy:
    timeout_seconds: float = 5.0
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 30 * 60.0
    retry_for: timedelta = timedelta(hours=24)

    def delay(self, failures: int) -> timedelta:
        seconds = self.backoff_seconds * 2 ** max(0, failures - 1)
        return timedelta(seconds=min(self.max_backoff_seconds, seconds))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def endpoint_down(self) -> bool:
        """Unreachable, timed out, or asking to slow down: the whole endpoint waits. Any other
        refusal is about this delivery: only it (and its conversation's later events) waits."""
        return not self.ok and self.status_code in (None, *PAUSING_STATUSES)


class WebhookSender:
    """Delivers due outbox rows; never called from a request. `run` (a background task) gives
    every endpoint with due deliveries its own worker, so a slow or dead endpoint only ever
    delays itself; `run_once` is one synchronous pass (the CLI and tests)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        policy: SenderPolicy,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.policy = policy
        self.clock = clock
        self._workers: dict[str, asyncio.Task[int]] = {}

    async def run(self, every_seconds: float) -> None:
        """Every `every_seconds`, and whenever a transaction of this process wrote outbox rows,
        start a worker for each endpoint with due deliveries that has none running; a failed
        look is logged and the next one tries again."""
        wake = asyncio.Event()
        _running.add(wake)
        try:
            while True:
                wake.clear()
                try:
                    for endpoint_id in await self._due_endpoints():
                        if endpoint_id not in self._workers:
                            self._workers[endpoint_id] = asyncio.ensure_future(
                                self._work(endpoint_id)
                            )
                except Exception:
                    logger.exception("Webhook round failed; retrying in %s s", every_seconds)
                await wait_until_set(wake, every_seconds)
        finally:
            _running.discard(wake)
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, endpoint_id: str) -> int:
        try:
            return await self.drain(endpoint_id)
        except Exception:
            logger.exception("Webhook worker for endpoint %s failed", endpoint_id)
            return 0
        finally:
            self._workers.pop(endpoint_id, None)

    async def run_once(self) -> int:
        """Drain every endpoint with due deliveries, concurrently; how many were delivered."""
        endpoints = await self._due_endpoints()
        return sum(await asyncio.gather(*(self.drain(e) for e in endpoints)))

    async def drain(self, endpoint_id: str) -> int:
        """Send the endpoint's due deliveries, oldest first, until none is due (sending one can
        make its conversation's next one due) or the endpoint is down; how many were delivered."""
        sent = 0
        while due := await self._due(endpoint_id):
            for delivery_id in due:
                outcome = await self._attempt(delivery_id, endpoint_id)
                if outcome is None:
                    continue  # another sender has it
                if outcome.ok:
                    sent += 1
                elif outcome.endpoint_down:
                    return sent
        return sent

    def _due_query(self, now: datetime) -> Any:
        earlier = aliased(WebhookDelivery)
        waits = exists().where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.conversation_id == WebhookDelivery.conversation_id,
            earlier.status == PENDING,
            earlier.id < WebhookDelivery.id,
        )
        return (
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                WebhookEndpoint.active.is_(True),
                or_(WebhookEndpoint.paused_until.is_(None), WebhookEndpoint.paused_until <= now),
                ~waits,
            )
        )

    async def _due_endpoints(self) -> list[str]:
        query = self._due_query(self.clock()).with_only_columns(WebhookDelivery.endpoint_id)
        async with self.sessions() as session:
            return list((await session.scalars(query.distinct())).all())

    async def _due(self, endpoint_id: str) -> list[int]:
        query = (
            self._due_query(self.clock())
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
            .limit(BATCH)
        )
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def _attempt(self, delivery_id: int, endpoint_id: str) -> Outcome | None:
        leased = await self._lease(delivery_id)
        if leased is None:
            return None
        try:
            outcome = await self._post(*leased)
        except asyncio.CancelledError:  # the instance stops: the next one need not wait the lease
            await asyncio.shield(self._release(delivery_id))
            raise
        await self._settle(delivery_id, endpoint_id, outcome)
        return outcome

    async def _release(self, delivery_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING)
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def _lease(self, delivery_id: int) -> tuple[str, str, str, str, str] | None:
        """Take the delivery (a conditional UPDATE: one sender wins) for longer than an attempt
        can last; what to send. A sender that dies mid-attempt leaves it to be sent again when
        the lease runs out; one that is stopped gives it back at once."""
        now = self.clock()
        until = now + timedelta(seconds=self.policy.timeout_seconds) + LEASE_MARGIN
        async with self.sessions.begin() as session:
            won = await affected_rows(
                session,
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == PENDING,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                )
                .values(lease_until=until)
                .execution_options(synchronize_session=False),
            )
            if won != 1:
                return None
            row = (
                await session.execute(
                    select(
                        WebhookEndpoint.url,
                        WebhookEndpoint.secret,
                        WebhookDelivery.event_type,
                        WebhookDelivery.event_id,
                        WebhookDelivery.body,
                    )
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == delivery_id)
                )
            ).one()
            return row[0], row[1], row[2], row[3], row[4]

    async def _post(
        self, url: str, secret: str, event_type: str, event_id: str, body: str
    ) -> Outcome:
        data = body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "LumenHome-Webhooks/1",
            ID_HEADER: event_id,
            EVENT_HEADER: event_type,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, data),
        }
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout_seconds)
        started = time.monotonic()
        status: int | None = None
        try:
            async with self.http.post(
                url, data=data, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                status = response.status
                await response.content.read(4096)  # the answer's body is not used
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as failure:
            name = type(failure).__name__
            error = f"{name}: {failure}" if str(failure) else name
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(status, error[:MAX_ERROR] if error else None, duration)

    async def _settle(self, delivery_id: int, endpoint_id: str, outcome: Outcome) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await session.get(WebhookDelivery, delivery_id, populate_existing=True)
            endpoint = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
            if row is None or endpoint is None:  # deleted meanwhile
                return
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            row.attempts += 1
            row.lease_until = None
            row.last_status_code = outcome.status_code
            row.last_error = outcome.error
            if outcome.ok:
                row.status = DELIVERED
                row.delivered_at = now
                if endpoint.failures or endpoint.paused_until:
                    await self._recovered(session, endpoint, now)
                return
            if outcome.endpoint_down:
                endpoint.failures += 1
                endpoint.paused_until = now + self.policy.delay(endpoint.failures)
            if now - row.created_at >= self.policy.retry_for:
                row.status = FAILED
                logger.warning(
                    "Webhook delivery %s to %s given up after %d attempts: %s",
                    delivery_id,
                    endpoint_id,
                    row.attempts,
                    outcome.error,
                )
            else:
                row.next_attempt_at = now + self.policy.delay(row.attempts)

    async def _recovered(
        self, session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
    ) -> None:
        """The endpoint answers again: what waited because it was down is due now, not after
        its backoff (deliveries it refused keep theirs)."""
        endpoint.failures = 0
        endpoint.paused_until = None
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at > now,
                or_(
                    WebhookDelivery.last_status_code.is_(None),
                    WebhookDelivery.last_status_code.in_(PAUSING_STATUSES),
                ),
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        logger.info("Webhook endpoint %s answers again", endpoint.id)


@dataclass(frozen=True)
class EndpointChange:
    url: Any = None
    events: Any = None
    description: Any = None
    active: Any = None


class WebhookService:
    """Admins' side: endpoints, their secrets, the delivery log and redelivery."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def list(self) -> JSON:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            )
            endpoints = list(rows)
            counts = await _pending_counts(session, [row.id for row in endpoints])
        return {
            "events": list(EVENTS),
            "webhooks": [endpoint_view(row, counts.get(row.id, 0)) for row in endpoints],
        }

    async def create(self, change: EndpointChange, agent_id: str | None) -> JSON:
        if change.url is None or change.events is None:
            raise Invalid("url and events are required.", "missing_field")
        now = utc_now()
        row = WebhookEndpoint(
            url=_url(change.url),
            events=_events(change.events),
            description=_description(change.description),
            active=_active(change.active, default=True),
            secret=generate_secret(),
            failures=0,
            created_by_agent_id=agent_id,
            created_at=now,
            updated_at=now,
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return {**endpoint_view(row, 0), "secret": row.secret}

    async def get(self, endpoint_id: str) -> JSON:
        async with self.sessions() as session:
            row = await _endpoint(session, endpoint_id)
            counts = await _pending_counts(session, [row.id])
        return endpoint_view(row, counts.get(row.id, 0))

    async def update(self, endpoint_id: str, change: EndpointChange) -> JSON:
        values: dict[str, Any] = {}
        if change.url is not None:
            values["url"] = _url(change.url)
        if change.events is not None:
            values["events"] = _events(change.events)
        if change.description is not None:
            values["description"] = _description(change.description)
        if change.active is not None:
            values["active"] = _active(change.active, default=True)
        async with self.sessions.begin() as session:
            row = await _endpoint(session, endpoint_id)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utc_now()
        return await self.get(endpoint_id)

    async def delete(self, endpoint_id: str) -> None:
        async with self.sessions.begin() as session:
            await session.delete(await _endpoint(session, endpoint_id))

    async def rotate_secret(self, endpoint_id: str) -> JSON:
        async with self.sessions.begin() as session:
            row = await _endpoint(session, endpoint_id)
            row.secret = generate_secret()
            row.updated_at = utc_now()
            secret = row.secret
        return {**(await self.get(endpoint_id)), "secret": secret}

    async def deliveries(
        self, endpoint_id: str, status: str | None, limit: int, offset: int
    ) -> JSON:
        """The delivery log of an endpoint, newest first, each with its attempts."""
        where = [WebhookDelivery.endpoint_id == endpoint_id]
        if status is not None:
            where.append(WebhookDelivery.status == status)
        async with self.sessions() as session:
            await _endpoint(session, endpoint_id)
            count = await session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(*where)
            )
            rows = list(
                await session.scalars(
                    select(WebhookDelivery)
                    .where(*where)
                    .order_by(WebhookDelivery.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
            attempts = await _attempts(session, [row.id for row in rows])
        return {
            "count": count or 0,
            "deliveries": [delivery_view(row, attempts.get(row.id, [])) for row in rows],
        }

    async def redeliver(self, delivery_id: int) -> JSON:
        """Send a delivery again as soon as its turn comes (whatever its status), with the same
        body and event id; the endpoint's pause is lifted so it happens now."""
        now = utc_now()
        async with self.sessions.begin() as session:
            row = await session.get(WebhookDelivery, delivery_id, populate_existing=True)
            if row is None:
                raise NotFound(f"No webhook delivery {delivery_id}.", "delivery_not_found")
            row.status = PENDING
            row.next_attempt_at = now
            row.lease_until = None
            endpoint = await session.get(WebhookEndpoint, row.endpoint_id)
            if endpoint is not None:
                endpoint.paused_until = None
        async with self.sessions() as session:
            row = found(
                await session.get(WebhookDelivery, delivery_id, populate_existing=True),
                "webhook delivery",
            )
            attempts = await _attempts(session, [delivery_id])
        return delivery_view(row, attempts.get(delivery_id, []))


async def _endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    row = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if row is None:
        raise NotFound(f"No webhook {endpoint_id!r}.", "webhook_not_found")
    return row


async def _pending_counts(session: AsyncSession, endpoint_ids: list[str]) -> dict[str, int]:
    if not endpoint_ids:
        return {}
    rows = await session.execute(
        select(WebhookDelivery.endpoint_id, func.count())
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids), WebhookDelivery.status == PENDING)
        .group_by(WebhookDelivery.endpoint_id)
    )
    return {endpoint_id: count for endpoint_id, count in rows.tuples()}


async def _attempts(session: AsyncSession, delivery_ids: list[int]) -> dict[int, list[JSON]]:
    found: dict[int, list[JSON]] = {}
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id)
    )
    for row in rows:
        found.setdefault(row.delivery_id, []).append(
            {
                "at": iso(row.at),
                "status_code": row.status_code,
                "error": row.error,
                "duration_ms": row.duration_ms,
            }
        )
    return found


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("url must be a non-empty string.", "invalid_url")
    value = value.strip()
    if len(value) > MAX_URL:
        raise Invalid(f"url is longer than {MAX_URL} characters.", "invalid_url")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise Invalid("url is not a valid URL.", "invalid_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid("url must be an http:// or https:// URL with a host.", "invalid_url")
    if parts.username or parts.password:
        raise Invalid("url must not carry credentials (verify the signature).", "invalid_url")
    return value


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise Invalid("events must be a non-empty list of event names.", "invalid_events")
    unknown = [name for name in value if name not in EVENTS]
    if unknown:
        raise Invalid(
            f"Unknown events {', '.join(map(repr, unknown))}; known: {', '.join(EVENTS)}.",
            "invalid_events",
        )
    return [name for name in EVENTS if name in value]


def _description(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise Invalid(
            f"description must be a string of at most {MAX_DESCRIPTION} characters.",
            "invalid_description",
        )
    return value


def _active(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid("active must be true or false.", "invalid_active")
    return value


def endpoint_view(row: WebhookEndpoint, pending: int) -> JSON:
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": list(row.events),
        "active": row.active,
        "failures": row.failures,
        "paused_until": iso(row.paused_until),
        "pending": pending,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def delivery_view(row: WebhookDelivery, attempts: list[JSON]) -> JSON:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "conversation_id": row.conversation_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at) if row.status == PENDING else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
        "payload": json.loads(row.body),
        "log": attempts,
    }
