"""What goes wrong while storing events: a bad event (set aside) or a failing database (retried).

A `Rejected` event is kept as a dead letter with its payload (bounded), its error and where it
came from. `is_transient` tells a database that is down, locked or busy (the source retries the
batch later, nothing is set aside) from a database that refuses this event's values (the event
is set aside, the stream goes on).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

MAX_PAYLOAD = 64 * 1024  # characters of a payload kept; a longer one is kept truncated
MAX_ERROR = 1000
# SQLSTATE classes of failures that go away: connection, rollback (serialization, deadlock),
# insufficient resources, operator intervention (shutdown, cannot connect now), system error.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")


def is_transient(error: BaseException) -> bool:
    """Whether retrying later can succeed: the database failed, not the values given to it."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
            return True
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(error, OSError | asyncio.TimeoutError | PoolTimeout)


def describe(error: BaseException) -> str:
    """A short reason for a dead letter: the driver's message, without SQL or parameters."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"[:MAX_ERROR]


def _storable_text(text: str) -> str:
    """`text` as any Text column takes it: undecodable parts and NUL escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _column_value(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return None
    clean = _storable_text(value)
    return clean if clean == value else None


@dataclass(frozen=True)
class Rejected:
    """An event that cannot be stored as it is; `payload` is its full JSON (or raw text)."""

    payload: str
    error: str
    conversation_id: str | None = None
    event_type: str | None = None

    @classmethod
    def of_event(cls, event: Any, error: str) -> Rejected:
        """A decoded event: kept as JSON (ASCII-escaped, so any column stores it)."""
        fields = event if isinstance(event, dict) else {}
        return cls(
            payload=json.dumps(event, ensure_ascii=True),
            error=error[:MAX_ERROR],
            conversation_id=_column_value(fields.get("sender_id"), 255),
            event_type=_column_value(fields.get("event"), 100),
        )

    @classmethod
    def of_raw(cls, raw: str | bytes, error: str) -> Rejected:
        """A payload that did not decode: kept as text, as close to what arrived as storable."""
        text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
        return cls(payload=_storable_text(text), error=error[:MAX_ERROR])

    @property
    def fingerprint(self) -> str:
        """The same payload from the same source is one dead letter, however often it comes."""
        return hashlib.sha256(self.payload.encode()).hexdigest()

    @property
    def stored_payload(self) -> tuple[str, bool]:
        """The payload as kept, and whether it was cut to MAX_PAYLOAD characters."""
        return self.payload[:MAX_PAYLOAD], len(self.payload) > MAX_PAYLOAD
