"""Agent and system lines leave through the connector's deliver endpoint (the Rasa server
process owns channel I/O; this service holds no channel credentials)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from handoff.http import RetryPolicy, Unreachable, post


@dataclass(frozen=True)
class Delivery:
    conversation_id: str
    channel: str | None
    message_id: str
    author_type: str
    author_name: str | None
    text: str


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "sent" or "failed" (a message's delivery_status)
    channel_message_id: str | None = None
    error: str | None = None


class DeliveryClient:
    def __init__(
        self, http: aiohttp.ClientSession, url: str, token: str, policy: RetryPolicy
    ) -> None:
        self.http = http
        self.base_url = url.rstrip("/")
        self.token = token
        self.policy = policy

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Send through the channel's own deliver endpoint, `/webhooks/<channel>/deliver`."""
        if not delivery.channel:
            return DeliveryResult("failed", error="The conversation has no known channel.")
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.base_url}/webhooks/{delivery.channel}/deliver"
        try:
            answer = await post(self.http, url, asdict(delivery), self.policy, headers)
        except Unreachable as error:
            return DeliveryResult("failed", error=f"The channel could not be reached ({error}).")
        body: Any = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (200, 202):
            return DeliveryResult("sent", channel_message_id=body.get("channel_message_id"))
        message = body.get("message") or body.get("error") or f"HTTP {answer.status}"
        return DeliveryResult("failed", error=str(message))
