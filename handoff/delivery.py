"""Agent and system lines leave through the connector's deliver endpoint (the Rasa server
process owns channel I/O; this service holds no channel credentials)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from contracts.delivery import DeliverRequest
from contracts.values import FAILED, PENDING, SENT
from handoff.http import Answer, RetryPolicy, Unreachable, post

logger = logging.getLogger(__name__)

# A deliver call retried after a timeout can find the first attempt still sending (a slow
# channel): the connector answers 409 `delivery_in_progress` with Retry-After and never sends
# the line twice; this client asks again until that attempt has settled.
IN_PROGRESS_CHECKS = 10
MAX_WAIT_SECONDS = 10.0


Delivery = DeliverRequest  # what a connector's deliver endpoint takes (contracts.delivery)


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # SENT, FAILED, or PENDING while still in progress (delivery_status)
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
            return DeliveryResult(FAILED, error="The conversation has no known channel.")
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.base_url}/webhooks/{delivery.channel}/deliver"
        try:
            answer = await self._post(url, delivery, headers)
        except Unreachable as error:
            return DeliveryResult(FAILED, error=f"The channel could not be reached ({error}).")
        if _in_progress(answer):
            return DeliveryResult(PENDING, error="The connector is still sending this line.")
        body: Any = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (200, 202):
            return DeliveryResult(SENT, channel_message_id=body.get("channel_message_id"))
        message = body.get("message") or body.get("error") or f"HTTP {answer.status}"
        return DeliveryResult(FAILED, error=str(message))

    async def _post(self, url: str, delivery: Delivery, headers: dict[str, str]) -> Answer:
        payload = delivery.to_json()
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
