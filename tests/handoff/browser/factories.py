"""Intake requests as the bot sends them (docs/handoff-intake.md), for the console tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from contracts.values import format_time


def handoff_request(**overrides: Any) -> dict[str, Any]:
    """An intake body like the one `action_handoff` sends: a frustrated billing customer."""
    now = datetime.now(timezone.utc)
    conversation_id = f"web-{uuid.uuid4().hex[:8]}"

    def at(seconds_ago: int) -> str:
        return format_time(now - timedelta(seconds=seconds_ago))

    body: dict[str, Any] = {
        "conversation_id": conversation_id,
        "channel": "webchat",
        "customer": {"id": conversation_id, "language": "en"},
        "triage": {
            "topic": "billing",
            "description": "Charged twice for the October invoice",
            "reference": "ACC-482913",
            "mode_preference": "sync",
            "device_name": None,
        },
        "priority": {"level": 2, "name": "high", "first_response_minutes": 5},
        "mode": "sync",
        "team": "billing",
        "tags": ["billing", "frustrated"],
        "reasons": ["frustration 0.82 (shouting, repeated_contact) ≥ 0.7 → high priority"],
        "frustration": {"score": 0.82, "signals": ["shouting", "repeated_contact"]},
        "escalation_reason": "frustration",
        "transcript": [
            {
                "author_type": "customer",
                "text": "I was charged twice this month",
                "timestamp": at(90),
                "message_id": f"{conversation_id}-1",
                "intent": "billing_problem",
                "channel": "webchat",
                "frustration": None,
                "entities": [],
                "payload": False,
            },
            {
                "author_type": "bot",
                "text": "Sorry about that! What is your account reference?",
                "buttons": [],
                "timestamp": at(80),
            },
            {
                "author_type": "customer",
                "text": "THIS IS THE THIRD TIME I WRITE. ACC-482913",
                "timestamp": at(60),
                "message_id": f"{conversation_id}-2",
                "intent": "inform",
                "channel": "webchat",
                "frustration": {"score": 0.82, "signals": ["shouting", "repeated_contact"]},
                "entities": [],
                "payload": False,
            },
            {
                "author_type": "bot",
                "text": "I'm passing you to a person from our billing team now.",
                "buttons": [],
                "timestamp": at(50),
            },
        ],
        "requested_at": at(45),
    }
    body.update(overrides)
    return body


def urgent_device_request() -> dict[str, Any]:
    """A beeping smoke sensor: safety, urgent, device support; the customer asked for a person."""
    return handoff_request(
        priority={"level": 1, "name": "urgent", "first_response_minutes": 2},
        team="devices",
        tags=["technical", "safety", "Lumen Smoke Sensor"],
        triage={
            "topic": "technical",
            "description": "Smoke sensor keeps beeping after a battery change",
            "reference": None,
            "mode_preference": "sync",
            "device_name": "Lumen Smoke Sensor",
        },
        frustration={"score": 0.45, "signals": ["urgency"]},
        escalation_reason="human_request",
        reasons=["safety tag → urgent", "the customer asked for a person"],
    )


def low_order_request() -> dict[str, Any]:
    """A calm WhatsApp customer who is happy to get the answer later."""
    return handoff_request(
        channel="whatsapp",
        priority={"level": 4, "name": "low", "first_response_minutes": 240},
        mode="async",
        team="orders",
        tags=["order", "how-to"],
        triage={
            "topic": "order",
            "description": "Wants to change the delivery address of order 55120",
            "reference": "ORD-55120",
            "mode_preference": "async",
            "device_name": None,
        },
        frustration={"score": 0.1, "signals": []},
        escalation_reason="triage_complete",
        reasons=["no frustration, answer later preferred → low priority"],
    )
