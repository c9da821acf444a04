"""Hand conversations to the handoff service: never lost, never sent twice.

`ActionHandoff` only *enqueues* a request in a SQLite outbox (committed before the customer is
told anything); an `OutboxRelay` task in the action server delivers the outbox in order with
`HandoffClient`, retrying with exponential backoff. Each request gets an Idempotency-Key when it
is enqueued and keeps it for every retry, so a lost acknowledgement (the service stored the
request but the answer never arrived) cannot create a second handoff. The contract is written
down in docs/handoff-intake.md.
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
        for listener in list(self._listeners):
            listener()
        return key

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
        if key is not None:
            query, params = query + " WHERE key = ?", (key,)
        else:
            query, params = query + " WHERE status = ? ORDER BY seq", (status.value,)
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
            return DeliveryResult(Outcome.RETRY, f"{type(error).__name__}: {error}")
        detail = f"HTTP {response.status}: {text[:500]}"
        if response.status in CONFIGURATION_ERRORS:
            logger.error("handoff service at %s refused us (%s): check settings", url, detail)
        return DeliveryResult(outcome, detail, retry_after)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# --- Relay ---------------------------------------------------------------------------------------


class OutboxRelay:
    """One background task delivering the outbox in enqueue order.

    It sleeps until an enqueue wakes it; after a retryable failure it waits
    `backoff_base * 2**(failures-1)` seconds, or longer if Retry-After asks, never more than
    `backoff_max`, before trying the oldest pending entry again. A single task means a single
    delivery in flight per entry, however many wake-ups arrive. Started again on the same file
    (after a restart), it delivers what the previous run left pending, with the same keys.
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
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
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

    def backoff(self, failures: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result = await self._deliver_pending()
            except (sqlite3.Error, OSError):
                logger.exception("handoff outbox %s unreadable; retrying", self.outbox.path)
                result = DeliveryResult(Outcome.RETRY, "outbox error")
            if result is None:
                failures = 0
                await self._wait(self._wake)
                continue
            failures += 1
            delay = min(self.backoff_max, max(self.backoff(failures), result.retry_after or 0.0))
            await self._wait(self._stopping, timeout=delay)

    async def _deliver_pending(self) -> DeliveryResult | None:
        """Deliver in order; return the retryable result that stopped us, None when drained."""
        for entry in await self.outbox.pending():
            if self._stopping.is_set():
                return None
            result = await self.client.deliver(entry.key, entry.body)
            if result.outcome is Outcome.DELIVERED:
                await self.outbox.mark_delivered(entry.key)
            elif result.outcome is Outcome.FAILED:
                await self.outbox.mark_failed(entry.key, result.detail)
            else:
                await self.outbox.record_attempt(entry.key, result.detail)
                logger.warning("handoff %s not delivered, will retry: %s", entry.key, result.detail)
                return result
        return None

    async def _wait(self, event: asyncio.Event, timeout: float | None = None) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
