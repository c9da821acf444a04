"""Dead letters: events the ingestion set aside (`handoff.services.sink`), for admins to look at,
retry (the same mapping and storing as the stream, once the cause is fixed) or discard.

A letter is `open` until a retry stores it (`resolved`) or an admin gives it up (`discarded`);
a retry that fails again keeps it open with the new error and counts the attempt.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import Conflict, NotFound
from handoff.failures import describe, is_transient
from handoff.ingest.mapping import InvalidInput
from handoff.models import DeadLetter
from handoff.repositories import DeadLetters
from handoff.services.sink import EventSink
from handoff.views import iso

STATUSES = ("open", "resolved", "discarded")
MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer column are not ours
RETRY_ALL_LIMIT = 500  # letters one "retry all" request goes through, oldest first


def letter_view(row: DeadLetter) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "conversation_id": row.conversation_id,
        "event_type": row.event_type,
        "status": row.status,
        "error": row.error,
        "attempts": row.attempts,
        "first_seen_at": iso(row.first_seen_at),
        "last_seen_at": iso(row.last_seen_at),
        "payload": row.payload,
        "truncated": row.truncated,
    }


class DeadLetterService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sink: EventSink) -> None:
        self.sessions = sessions
        self.sink = sink

    async def list(self, status: str, limit: int, offset: int) -> dict[str, Any]:
        """`count` letters have `status`; `dead_letters` is the page asked for, oldest first."""
        async with self.sessions() as session:
            count, rows = await DeadLetters(session).page(status, limit, offset)
        return {"count": count, "dead_letters": [letter_view(row) for row in rows]}

    async def retry(self, letter_id: int) -> dict[str, Any]:
        """Store the letter's event again: `resolved` when it now fits, else still `open`
        with the new error. 409 unless it is open and its payload is whole."""
        row = await self._open(letter_id)
        if row.truncated:
            raise Conflict(
                "This payload was cut to the stored maximum and cannot be retried; discard it.",
                "payload_truncated",
            )
        try:
            await self.sink.retry(row.id, row.payload)
        except Exception as error:
            if is_transient(error):
                raise
            reason = str(error) if isinstance(error, InvalidInput) else describe(error)
            async with self.sessions.begin() as session:
                await DeadLetters(session).settle(row.id, "open", error=reason)
        return await self._view(letter_id)

    async def retry_all(self) -> dict[str, int]:
        """Retry the oldest open letters (up to RETRY_ALL_LIMIT); how many, and how they went."""
        async with self.sessions() as session:
            ids = (await DeadLetters(session).open_ids())[:RETRY_ALL_LIMIT]
        resolved = 0
        for letter_id in ids:
            try:
                view = await self.retry(letter_id)
            except (Conflict, NotFound):
                continue  # discarded, resolved or cut meanwhile
            resolved += view["status"] == "resolved"
        return {"retried": len(ids), "resolved": resolved, "still_open": len(ids) - resolved}

    async def discard(self, letter_id: int) -> dict[str, Any]:
        await self._open(letter_id)
        async with self.sessions.begin() as session:
            if not await DeadLetters(session).settle(letter_id, "discarded"):
                raise Conflict("This dead letter is no longer open.", "invalid_state")
        return await self._view(letter_id)

    async def _open(self, letter_id: int) -> DeadLetter:
        async with self.sessions() as session:
            row = await DeadLetters(session).get(letter_id) if 0 < letter_id <= MAX_ID else None
        if row is None:
            raise NotFound(f"No dead letter {letter_id}.", "dead_letter_not_found")
        if row.status != "open":
            raise Conflict(f"This dead letter is already {row.status}.", "invalid_state")
        return row

    async def _view(self, letter_id: int) -> dict[str, Any]:
        async with self.sessions() as session:
            row = await DeadLetters(session).get(letter_id)
        if row is None:
            raise NotFound(f"No dead letter {letter_id}.", "dead_letter_not_found")
        return letter_view(row)
