"""The handoff request the action server sends the handoff service (docs/handoff-intake.md).

`POST {HANDOFF_URL}/api/v1/handoffs` with the service token and an `Idempotency-Key`; the body
is `IntakeRequest.to_json()`. The service checks every value against the column that keeps it
(`handoff/services/intake.py`, whose fields tests/handoff/test_contract_shapes.py holds to this
definition).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from contracts.transcript import Line
from contracts.values import format_time

MODES = ("sync", "async")
TRIAGE_FIELDS = ("topic", "description", "reference", "mode_preference", "device_name")


@dataclass(frozen=True)
class Customer:
    id: str
    language: str = "en"  # BCP-47 primary tag
    name: str | None = None


@dataclass(frozen=True)
class Priority:
    level: int  # 1 (urgent) .. 4 (low)
    name: str  # urgent | high | normal | low
    first_response_minutes: int | None = None


@dataclass(frozen=True)
class IntakeRequest:
    conversation_id: str  # the Rasa sender id
    channel: str | None  # contracts.values.CHANNELS
    customer: Customer
    triage: dict[str, str | None]  # TRIAGE_FIELDS
    priority: Priority
    mode: str  # MODES
    team: str
    requested_at: datetime
    tags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    frustration: dict[str, Any] | None = None  # {"score": 0..1, "signals": [...]}
    escalation_reason: str | None = None
    transcript: list[Line] = field(default_factory=list)  # contracts.transcript lines

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["customer"] = {k: v for k, v in body["customer"].items() if v is not None}
        body["requested_at"] = format_time(self.requested_at)
        return body
