"""Agent and system lines leave through the connector's deliver endpoint (the Rasa server
process owns channel I/O; this service holds no channel credentials)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from handoff.http import Answer, RetryPolicy, Unreachable, post

logger = logging.getLogger(__name__)

# A deliver call retried after a timeout can find the first attempt still sending (a slow
# channel): the connector answers 409 `delivery_in_progress` with Retry-After and never sends
# the line twice; this client asks again until that attempt has settled.
IN_PROGRESS_CHECKS = 10
MAX_WAIT_SECONDS = 10.0


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
    status: str  # "sent", "failed", or "pending" while still in progress (delivery_status)
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
            answer = await self._post(url, delivery, headers)
        except Unreachable as error:
            return DeliveryResult("failed", error=f"The channel could not be reached ({error}).")
        if _in_progress(answer):
            return DeliveryResult("pending", error="The connector is still sending this line.")
        body: Any = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (200, 202):
            return DeliveryResult("sent", channel_message_id=body.get("channel_message_id"))
        message = body.get("message") or body.get("error") or f"HTTP {answer.status}"
        return DeliveryResult("failed", error=str(message))

    async def _post(self, url: str, delivery: Delivery, headers: dict[str, str]) -> Answer:
        payload = asdict(delivery)
        answer = await post(self.http, url, payload, self.policy, headers)
        for _ in range(IN_PROGRESS_CHECKS):
            if not _in_progress(answer):
                break
            wait = min(answer.retry_after or self.policy.backoff_seconds, MAX_WAIT_SECONDS)
            logger.info("Line %s is still being sent; again in %s s", delivery.message_id, wait)
            await asyncio.sleep(wait)
            answer = await post(self.http, url, payload, self.policy, headers)
        return answer


def _in_progress(answer: Answer) -> bool:
    body = answer.body if isinstance(answer.body, dict) else {}
    return answer.status == 409 and body.get("error") == "delivery_in_progress"
