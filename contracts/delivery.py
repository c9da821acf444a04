"""Agent and system lines on their way to the customer, and what the channel says about them.

- `DeliverRequest`: the handoff service -> a connector's `POST /webhooks/<channel>/deliver`
  (bearer `DELIVERY_TOKEN`); the answer is 200/202 `{"status": "sent"|"queued",
  "channel_message_id"}` or 4xx/5xx `{"error", "message"}`.
- `StatusReport`: a connector -> the handoff service's `POST /api/v1/deliveries` (bearer
  `HANDOFF_API_TOKEN`), one object or a list of at most `MAX_REPORTS`.

`from_json` checks a received body and raises `ContractError` naming the field; `to_json` is the
body a sender posts. docs/handoff-service.md describes both calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from contracts.errors import ContractError
from contracts.values import (
    HUMAN_AUTHORS,
    REPORTED_STATUSES,
    choice,
    each,
    format_time,
    obj,
    optional_text,
    parse_time,
    text,
)

MAX_REPORTS = 100
MAX_ERROR_CHARS = 4000
REPORT_TEXT_LIMITS = {"channel": 50, "conversation_id": 255, "channel_message_id": 255}


@dataclass(frozen=True)
class DeliverRequest:
    """One agent or system line to send. `channel` is None only on the service's side, for a
    conversation without a known channel (it is then not sent); a received one always has it."""

    conversation_id: str
    channel: str | None
    message_id: str
    author_type: str  # agent | system
    author_name: str | None
    text: str

    @classmethod
    def from_json(cls, body: Any) -> DeliverRequest:
        body = obj(body)
        fields = {name: text(body, name) for name in ("conversation_id", "channel", "message_id")}
        author_type = text(body, "author_type")
        if author_type not in HUMAN_AUTHORS:
            raise ContractError("author_type", "must be 'agent' or 'system'")
        return cls(
            author_type=author_type,
            author_name=optional_text(body, "author_name") or None,
            text=text(body, "text"),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StatusReport:
    """What the channel says about a line a connector delivered (`channel_message_id`)."""

    channel: str
    conversation_id: str
    channel_message_id: str
    status: str  # one of REPORTED_STATUSES
    at: datetime
    error: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> StatusReport:
        body = obj(body)
        fields = {
            name: text(body, name, limit)
            for name, limit in (
                ("channel", 50),
                ("conversation_id", 255),
                ("channel_message_id", 255),
            )
        }
        status = choice(body, "status", REPORTED_STATUSES, code="invalid_status")
        at = body.get("at")
        if at is None or at == "":
            raise ContractError("at", "is required", missing=True)
        try:
            moment = parse_time(at) if isinstance(at, str) else None
        except ValueError:
            moment = None
        if moment is None:
            raise ContractError("at", "must be an ISO-8601 time, e.g. 2026-11-21T12:00:00.000Z")
        error = optional_text(body, "error", MAX_ERROR_CHARS)
        return cls(status=status, at=moment, error=error, **fields)

    @classmethod
    def list_from_json(cls, body: Any) -> list[StatusReport]:
        """One status object or a non-empty list of at most MAX_REPORTS; all valid or none."""
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, Mapping) for item in items):
            raise ContractError(
                "",
                "The body must be a status object or a non-empty list of them",
                code="malformed_body",
            )
        if len(items) > MAX_REPORTS:
            raise ContractError(
                "", f"At most {MAX_REPORTS} statuses per request", code="too_many_statuses"
            )
        if not isinstance(body, list):
            return [cls.from_json(body)]
        return each(items, cls.from_json, "statuses")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": format_time(self.at)}
