"""POST with retries: 5xx answers and connection errors are retried with exponential backoff
(`outbound.retry`, the policy every process uses); any other answer is returned as it is."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from outbound.retry import with_retries


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


class _ServerFailed(Exception):
    """A 5xx answer, retried like a connection error (its `Retry-After` honoured)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"HTTP {answer.status}")
        self.retry_after = answer.retry_after


def _retryable(error: BaseException) -> bool:
    return isinstance(error, _ServerFailed | aiohttp.ClientError | asyncio.TimeoutError)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    payload: Any,
    policy: RetryPolicy,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    data: bytes | None = None,
) -> Answer:
    """POST `payload` as JSON, or `data` as it is (bytes someone signed) when given, under the
    one retry policy (`outbound.retry`)."""
    content: dict[str, Any] = {"data": data} if data is not None else {"json": payload}
    timeout = aiohttp.ClientTimeout(total=policy.timeout_seconds)

    async def attempt() -> Answer:
        async with http.post(
            url, headers=headers, params=params, timeout=timeout, **content
        ) as response:
            answer = Answer(response.status, await _body(response), _seconds(response.headers))
        if answer.status >= 500:
            raise _ServerFailed(answer)
        return answer

    try:
        return await with_retries(
            attempt,
            what=f"POST {url}",
            attempts=policy.attempts,
            backoff_seconds=policy.backoff_seconds,
            retryable=_retryable,
        )
    except _ServerFailed as error:
        raise Unreachable(str(error)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        named = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise Unreachable(named) from None


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
