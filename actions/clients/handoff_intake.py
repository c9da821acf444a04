"""Hand conversations to the handoff service: never lost, never sent twice.

`ActionHandoff` only *enqueues* a request in a SQLite outbox (committed before the customer is
told anything); an `OutboxRelay` task in the action server delivers the outbox in order with
`HandoffClient`, retrying with exponential backoff; a request the service refuses for good is
set aside and one that keeps failing waits on its own backoff, so neither holds up the others.
Each request gets an Idempotency-Key when it is enqueued and keeps it for every retry, so a lost
acknowledgement (the service stored the request but the answer never arrived) cannot create a
second handoff. The contract is written down in docs/handoff-intake.md; set-aside requests are
listed and requeued with `python -m actions.clients.outbox_cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_OUTBOX_PATH = REPO_ROOT / "var" / "handoff-outbox.sqlite3"
INTAKE_PATH = "/api/v1/handoffs"
REQUEST_TIMEOUT_SECONDS = 10.0
STOP_GRACE_SECONDS = 5.0  # how long `OutboxRelay.stop` lets a delivery in flight finish

# 4xx answers that say "we are misconfigured" or "not now" rather than "this request is wrong":
# retried (configuration errors are logged at ERROR on every attempt until someone fixes them).
CONFIGURATION_ERRORS = frozenset({401, 403, 404})
RETRYABLE_CLIENT_ERRORS = CONFIGURATION_ERRORS | {408, 409, 425, 429}
# Answers about the whole service (misconfigured, overloaded, down behind a proxy): the relay
# pauses every request. Other retryable answers (500, 408, 409, 425) concern the request sent:
# it waits on its own backoff while the requests behind it go on.
SERVICE_WIDE_ERRORS = CONFIGURATION_ERRORS | {429, 502, 503, 504}


@dataclass(frozen=True)
class HandoffSettings:
    url: str = DEFAULT_URL
    api_token: str = ""
    outbox_path: Path = DEFAULT_OUTBOX_PATH

    @classmethod
    def from_env(cls) -> HandoffSettings:
        """Read HANDOFF_URL, HANDOFF_API_TOKEN and HANDOFF_OUTBOX_PATH now (not at import)."""
        return cls(
            url=os.environ.get("HANDOFF_URL", DEFAULT_URL).rstrip("/"),
            api_token=os.environ.get("HANDOFF_API_TOKEN", ""),
            outbox_path=Path(os.environ.get("HANDOFF_OUTBOX_PATH", DEFAULT_OUTBOX_PATH)),
        )


# --- Outbox --------------------------------------------------------------------------------------


class EntryStatus(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    body: dict[str, Any]
    status: EntryStatus
    attempts: int
    last_error: str | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS handoff_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    conversation_id TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_handoff_outbox_status_seq ON handoff_outbox (status, seq);
"""


class HandoffOutbox:
    """A durable FIFO of handoff requests in one SQLite file (WAL mode).

    Every method commits before it returns; blocking SQLite calls run in a worker thread.
    Listeners registered with `subscribe` are called after each enqueue (the relay wakes up).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._listeners: list[Callable[[], None]] = []
        self._ready = False
        self._init_lock = threading.Lock()

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def enqueue(self, body: dict[str, Any]) -> str:
        """Store `body` under a new Idempotency-Key and return the key once it is committed."""
        key = str(uuid.uuid4())
        await asyncio.to_thread(self._insert, key, body)
        self._notify()
        return key

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def pending(self) -> list[OutboxEntry]:
        """Undelivered entries in enqueue order."""
        return await asyncio.to_thread(self._select, EntryStatus.PENDING)

    async def failed(self) -> list[OutboxEntry]:
        return await asyncio.to_thread(self._select, EntryStatus.FAILED)

    async def get(self, key: str) -> OutboxEntry | None:
        rows = await asyncio.to_thread(self._select, None, key)
        return rows[0] if rows else None

    async def mark_delivered(self, key: str) -> None:
        await asyncio.to_thread(self._update, key, EntryStatus.DELIVERED, None)

    async def mark_failed(self, key: str, error: str) -> None:
        """Keep the entry with its error: a person has to look at it."""
        await asyncio.to_thread(self._update, key, EntryStatus.FAILED, error)
        logger.error("handoff %s permanently failed and needs attention: %s", key, error)

    async def record_attempt(self, key: str, error: str) -> None:
        """Count a failed attempt that will be retried."""
        await asyncio.to_thread(self._update, key, EntryStatus.PENDING, error)

    async def requeue(self, key: str) -> bool:
        """Send a failed entry again (with its key) once its cause is fixed; whether it was
        failed. A running relay of this process is woken."""
        requeued = await asyncio.to_thread(self._requeue, key)
        if requeued:
            self._notify()
        return requeued

    async def entries(self) -> list[OutboxEntry]:
        """Every entry, oldest first (for the outbox CLI)."""
        return await asyncio.to_thread(self._select, None)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self._initialize()
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            connection.execute("PRAGMA synchronous=FULL")
            with connection:  # one transaction, committed on success
                yield connection
        finally:
            connection.close()

    def _initialize(self) -> None:
        """Create the file and table once; worker threads race for it on first use."""
        with self._init_lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                # Switching to WAL needs the file to itself; it persists, so check first.
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
            finally:
                connection.close()
            self._ready = True

    def _insert(self, key: str, body: dict[str, Any]) -> None:
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO handoff_outbox (key, conversation_id, body, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, body.get("conversation_id"), json.dumps(body), now, now),
            )

    def _select(self, status: EntryStatus | None, key: str | None = None) -> list[OutboxEntry]:
        query = "SELECT key, body, status, attempts, last_error FROM handoff_outbox"
        params: tuple[str, ...] = ()
        if key is not None:
            query, params = query + " WHERE key = ?", (key,)
        elif status is not None:
            query, params = query + " WHERE status = ? ORDER BY seq", (status.value,)
        else:
            query += " ORDER BY seq"
        with self._connect() as db:
            rows = db.execute(query, params).fetchall()
        return [
            OutboxEntry(
                key=row[0],
                body=json.loads(row[1]),
                status=EntryStatus(row[2]),
                attempts=row[3],
                last_error=row[4],
            )
            for row in rows
        ]

    def _update(self, key: str, status: EntryStatus, error: str | None) -> None:
        attempts = "attempts" if status is EntryStatus.DELIVERED else "attempts + 1"
        with self._connect() as db:
            db.execute(
                f"UPDATE handoff_outbox SET status = ?, last_error = ?, attempts = {attempts},"
                " updated_at = ? WHERE key = ?",
                (status.value, error, time.time(), key),
            )

    def _requeue(self, key: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE handoff_outbox SET status = ?, updated_at = ? WHERE key = ? AND status = ?",
                (EntryStatus.PENDING.value, time.time(), key, EntryStatus.FAILED.value),
            )
            return cursor.rowcount == 1


_outboxes: dict[Path, HandoffOutbox] = {}


def outbox_for(path: Path) -> HandoffOutbox:
    """The process-wide outbox of a file, created on first use, so the action and the relay of
    one process share it (and an enqueue wakes the relay)."""
    path = Path(path).resolve()
    if path not in _outboxes:
        _outboxes[path] = HandoffOutbox(path)
    return _outboxes[path]


# --- Client --------------------------------------------------------------------------------------


class Outcome(str, enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None  # seconds the service asked us to wait (429/503)
    service_wide: bool = False  # a retry is due to the service (unreachable, overloaded, …)


def classify(status: int) -> Outcome:
    """Map an HTTP status of the intake endpoint to what the relay does next."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status >= 500 or status in RETRYABLE_CLIENT_ERRORS:
        return Outcome.RETRY
    return Outcome.FAILED


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: ignore it, our own backoff applies


class HandoffClient:
    """POSTs one handoff request; owns an aiohttp session created in the running loop."""

    def __init__(self, settings: HandoffSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, key: str, body: dict[str, Any]) -> DeliveryResult:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
            self._session = aiohttp.ClientSession(timeout=timeout)
        headers = {"Idempotency-Key": key}
        if self.settings.api_token:
            headers["Authorization"] = f"Bearer {self.settings.api_token}"
        url = self.settings.url + INTAKE_PATH
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                text = await response.text()
                outcome = classify(response.status)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            detail = f"{type(error).__name__}: {error}"
            return DeliveryResult(Outcome.RETRY, detail, service_wide=True)
        detail = f"HTTP {response.status}: {text[:500]}"
        if response.status in CONFIGURATION_ERRORS:
            logger.error("handoff service at %s refused us (%s): check settings", url, detail)
        return DeliveryResult(outcome, detail, retry_after, response.status in SERVICE_WIDE_ERRORS)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# --- Relay ---------------------------------------------------------------------------------------


class RetrySchedule:
    """When to try again, per request and for the whole service: after the n-th failure in a
    row, `base · 2^(n-1)` seconds, or longer if Retry-After asks, never more than `maximum`.
    In memory: a restarted relay tries every pending request once at start."""

    def __init__(
        self, base: float, maximum: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.base = base
        self.maximum = maximum
        self.clock = clock
        self._requests: dict[str, tuple[int, float]] = {}  # key -> (failures, due at)
        self._service: tuple[int, float] = (0, 0.0)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        return min(self.maximum, max(self.base * 2 ** (failures - 1), retry_after or 0.0))

    def request_failed(self, key: str, retry_after: float | None = None) -> float:
        """Count a failure of this request (the service answered): its delay."""
        failures = self._requests.get(key, (0, 0.0))[0] + 1
        delay = self.delay(failures, retry_after)
        self._requests[key] = (failures, self.clock() + delay)
        self._service = (0, 0.0)
        return delay

    def service_failed(self, retry_after: float | None = None) -> float:
        """Count a failure of the service as a whole: the delay before any request."""
        failures = self._service[0] + 1
        delay = self.delay(failures, retry_after)
        self._service = (failures, self.clock() + delay)
        return delay

    def settled(self, key: str) -> None:
        """The request was delivered or set aside: it and the service start afresh."""
        self._requests.pop(key, None)
        self._service = (0, 0.0)

    def request_wait(self, key: str) -> float:
        return max(0.0, self._requests.get(key, (0, 0.0))[1] - self.clock())

    def service_wait(self) -> float:
        return max(0.0, self._service[1] - self.clock())


class OutboxRelay:
    """One background task delivering the outbox, oldest first, one request at a time.

    It sleeps until an enqueue wakes it. A request refused for good (4xx other than
    401/403/404/408/409/425/429) is set aside (`failed`, with the answer) and the next one goes.
    A retryable failure of one request (500, 408, 409, 425) puts that request on its own backoff
    (`RetrySchedule`) while the requests behind it go on; later requests of the same
    conversation wait behind it, so a conversation's handoffs arrive in order. A failure of the
    whole service (unreachable, timeout, 401/403/404, 429, 502-504) pauses every request. A
    single task means a single delivery in flight per entry, however many wake-ups arrive.
    Started again on the same file (after a restart), it delivers what the previous run left
    pending, with the same keys.
    """

    def __init__(
        self,
        outbox: HandoffOutbox,
        client: HandoffClient,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.schedule = RetrySchedule(backoff_base, backoff_max)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._wake.set()  # deliver whatever an earlier run left behind
        self.outbox.subscribe(self._wake.set)
        self._task = asyncio.create_task(self._run(), name="handoff-outbox-relay")

    async def stop(self) -> None:
        """Stop after the delivery in flight (cancelled after a grace period); pending entries
        stay for the next run, which resends them with the same keys."""
        self.outbox.unsubscribe(self._wake.set)
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            _, still_running = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
            for task in still_running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._task = None
        await self.client.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                pause = await self._deliver_due()
            except (sqlite3.Error, OSError):
                logger.exception("handoff outbox %s unreadable; retrying", self.outbox.path)
                pause = self.schedule.service_failed()
            if self.schedule.service_wait() > 0:
                await self._wait(self._stopping, timeout=pause)  # new requests wait too
            else:
                await self._wait(self._wake, timeout=pause)

    async def _deliver_due(self) -> float | None:
        """Deliver every pending request that is due; the seconds until the next one is due,
        None when nothing is left to retry."""
        next_due: float | None = None
        waiting: set[str] = set()  # conversations with an earlier request on its backoff
        for entry in await self.outbox.pending():
            if self._stopping.is_set():
                return None
            if (pause := self.schedule.service_wait()) > 0:
                return pause
            conversation = json.dumps(entry.body.get("conversation_id"), sort_keys=True)
            if conversation in waiting:
                continue
            if (pause := self.schedule.request_wait(entry.key)) > 0:
                waiting.add(conversation)
                next_due = pause if next_due is None else min(next_due, pause)
                continue
            result = await self.client.deliver(entry.key, entry.body)
            if result.outcome is Outcome.DELIVERED:
                await self.outbox.mark_delivered(entry.key)
                self.schedule.settled(entry.key)
            elif result.outcome is Outcome.FAILED:
                await self.outbox.mark_failed(entry.key, result.detail)
                self.schedule.settled(entry.key)
            else:
                await self.outbox.record_attempt(entry.key, result.detail)
                logger.warning("handoff %s not delivered, will retry: %s", entry.key, result.detail)
                if result.service_wide:
                    return self.schedule.service_failed(result.retry_after)
                pause = self.schedule.request_failed(entry.key, result.retry_after)
                waiting.add(conversation)
                next_due = pause if next_due is None else min(next_due, pause)
        return next_due

    async def _wait(self, event: asyncio.Event, timeout: float | None = None) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
