"""Outbound client for the WhatsApp Cloud API (Graph API `/{phone_number_id}/messages`).

Imports nothing from Rasa or sanic, so the handoff service can use it too. Rate limits and
server trouble are retried with exponential backoff (honouring `Retry-After`); anything else is
raised at once as `GraphApiError` carrying Meta's error code and title.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
# Throughput / pair rate limits and the generic "too many calls" codes of the Graph API.
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
REENGAGEMENT_CODE = 131047  # more than 24 hours since the customer last wrote
MAX_RETRY_AFTER_SECONDS = 60.0
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")


@dataclass
class GraphApiError(Exception):
    """A send the Graph API refused (or could not take, for `transient` ones)."""

    http_status: int
    code: int | None
    title: str
    details: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        details = f": {self.details}" if self.details else ""
        return f"WhatsApp error {self.code} (HTTP {self.http_status}) {self.title}{details}"

    @property
    def transient(self) -> bool:
        """Worth retrying later: rate limits, server errors, no answer at all."""
        return self.code in RATE_LIMIT_CODES or self.http_status == 429 or self.http_status >= 500

    @property
    def outside_service_window(self) -> bool:
        return self.code == REENGAGEMENT_CODE


def error_from_response(http_status: int, body: Any, retry_after: str | None) -> GraphApiError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    error_data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    title = _CODE_PREFIX.sub("", str(error.get("message") or f"HTTP {http_status}"))
    return GraphApiError(
        http_status=http_status,
        code=code if isinstance(code, int) else None,
        title=title,
        details=error_data.get("details"),
        retry_after=_seconds(retry_after),
    )


class WhatsAppClient:
    """Sends message bodies (see `messages.py`) and returns the new message's wamid."""

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        graph_url: str = DEFAULT_GRAPH_URL,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 15.0,
    ) -> None:
        self.messages_url = f"{graph_url.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def send(self, message: dict[str, Any]) -> str:
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._post(message)
            except GraphApiError as error:
                if not error.transient or attempt == self._attempts:
                    raise
                delay = error.retry_after
                if delay is None:
                    delay = self._backoff * 2 ** (attempt - 1)
                logger.warning("WhatsApp send retried in %.1fs after %s", delay, error)
                await asyncio.sleep(min(delay, MAX_RETRY_AFTER_SECONDS))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _post(self, message: dict[str, Any]) -> str:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(self.messages_url, json=message, headers=self._headers) as answer,
            ):
                body = await answer.json(content_type=None)
                if answer.status != 200:
                    raise error_from_response(
                        answer.status, body, answer.headers.get("Retry-After")
                    )
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise GraphApiError(503, None, f"WhatsApp could not be reached ({error!r})") from error
        try:
            return str(body["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as error:
            raise GraphApiError(502, None, "WhatsApp answered without a message id") from error


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
