"""Sources of Rasa's event stream: what they share and how one is chosen.

A source reads the events Rasa's event broker publishes (`{"sender_id": …, **event.as_dict()}`)
and hands them, in order and in batches, to an `EventSink`. It acknowledges a batch (advances
its cursor, acks its messages) only after `EventSink.store` returned: delivery is at least
once, and the sink makes repeated delivery harmless. A payload that is not a JSON object is
handed over as `Rejected` and the sink keeps it as a dead letter, like an event that does not
fit its shape: a bad event never holds the stream up. `EventSink.store` raises only when the
database fails; those transient failures (broker or database down, a locked SQLite file) are
logged and retried with backoff; a source only ends when `stop()` is called.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from handoff.failures import Rejected

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class EventSink(Protocol):
    """Where sources put events (`handoff.services.sink.EventSink`)."""

    async def store(
        self,
        events: Sequence[Event | Rejected],
        cursor: tuple[str, str] | None = None,
        *,
        source: str,
    ) -> None:
        """Store a batch idempotently, with the source's new cursor, in one transaction; events
        that cannot be stored are set aside as dead letters of `source`."""

    async def cursor(self, source: str) -> str | None:
        """The cursor stored for `source`, or None before its first batch."""


class EventSource(Protocol):
    """A running connection to the event stream."""

    name: str

    async def run(self) -> None:
        """Deliver events to the sink until `stop()` is called."""

    def stop(self) -> None:
        """Ask `run()` to return after the batch in hand is stored (or given back)."""


def parse_event(raw: str | bytes, sender_id: str | None = None) -> Event | Rejected:
    """Decode one published event; `Rejected` if it is not a JSON object.

    `sender_id` fills the event's sender when the payload lacks it (the SQL broker also keeps
    it in a column of its own).
    """
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return Rejected.of_raw(raw, f"not JSON: {error}")
    if not isinstance(event, dict):
        return Rejected.of_raw(raw, f"not a JSON object but {type(event).__name__}")
    if sender_id is not None:
        event.setdefault("sender_id", sender_id)
    return event


def create_source(kind: str, url: str, sink: EventSink) -> EventSource:
    """The source for the `EVENT_SOURCE` setting, already split into kind and URL.

    - `sql`: a SQLAlchemy URL of Rasa's SQL event broker database (`sqlite:///…`,
      `postgresql://…`), whose `events` table is tailed.
    - `amqp`: an `amqp(s)://` RabbitMQ URL; optional query parameters `exchange` (default
      `rasa-exchange`), `queue` (default `handoff-service`) and `prefetch` (default 100).
    """
    # Imported here: the modules import this one, and aio-pika is needed only for `amqp`.
    if kind == "sql":
        from handoff.ingest.sources.sql_tail import SqlTailSource

        return SqlTailSource(url, sink)
    if kind == "amqp":
        from handoff.ingest.sources.amqp import AmqpSource

        return AmqpSource.from_url(url, sink)
    raise ValueError(f"Unknown event source kind {kind!r}: expected 'sql' or 'amqp'")
