"""POST with retries: 5xx answers and connection errors are retried with exponential backoff;
any other answer is returned to the caller as it is."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the JSON body, or the text when it is not JSON
    retry_after: float | None = None  # seconds, from a `Retry-After` header


class Unreachable(Exception):
    """Every attempt failed with a 5xx or a connection error; the message says the last one."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0  # per attempt

    def delay(self, attempt: int) -> float:
        return self.backoff_seconds * 2 ** (attempt - 1)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    payload: Any,
    policy: RetryPolicy,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    data: bytes | None = None,
) -> Answer:
    """POST `payload` as JSON, or `data` as it is (bytes someone signed) when given."""
    last = ""
    content: dict[str, Any] = {"data": data} if data is not None else {"json": payload}
    timeout = aiohttp.ClientTimeout(total=policy.timeout_seconds)
    for attempt in range(1, policy.attempts + 1):
        try:
            async with http.post(
                url, headers=headers, params=params, timeout=timeout, **content
            ) as response:
                body = await _body(response)
                if response.status < 500:
                    return Answer(response.status, body, _seconds(response.headers))
                last = f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        logger.warning("POST %s failed (attempt %d/%d): %s", url, attempt, policy.attempts, last)
        if attempt < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    raise Unreachable(last)


def _seconds(headers: Any) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:  # absent, or an HTTP date (not sent by our connectors)
        return None


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    try:
        return await response.json(content_type=None) if text else None
    except ValueError:
        return text
