"""What a connector says about the customer's presence in the chat, for the agent's console.

`CustomerActivity`: a connector -> the handoff service's `POST /api/v1/customer-activity`
(bearer `HANDOFF_API_TOKEN`). The web chat reports `online` when the customer's first tab
connects, `typing` while they type (again every few seconds), `online` when they stop, `left`
when their last tab closes. Reports are fire and forget, so they may arrive out of order: `at`
(when the connector saw it) decides which is the newest. docs/handoff-service.md describes the
call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.values import CHANNELS, choice, format_time, obj, required_time, text

ONLINE, TYPING, LEFT = "online", "typing", "left"
ACTIVITY_STATES = (ONLINE, TYPING, LEFT)


@dataclass(frozen=True)
class CustomerActivity:
    channel: str
    conversation_id: str  # the Rasa sender id
    state: str  # one of ACTIVITY_STATES
    at: datetime

    @classmethod
    def from_json(cls, body: Any) -> CustomerActivity:
        body = obj(body)
        return cls(
            channel=choice(body, "channel", CHANNELS, code="invalid_channel"),
            conversation_id=text(body, "conversation_id", 255),
            state=choice(body, "state", ACTIVITY_STATES, code="invalid_activity"),
            at=required_time(body, "at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "conversation_id": self.conversation_id,
            "state": self.state,
            "at": format_time(self.at),
        }
