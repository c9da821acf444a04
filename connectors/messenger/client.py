"""Messenger Send API client (aiohttp only, so the handoff service's environment can use it too).

Every send is ``POST {graph_url}/me/messages?access_token=<page access token>`` with a JSON body
``{"recipient": {"id": <PSID>}, "messaging_type": ..., "message": {...}}`` or
``{"recipient": ..., "sender_action": "typing_on"}``; Meta answers
``{"recipient_id", "message_id"}`` or ``{"error": {"message", "type", "code", "error_subcode"}}``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
TEXT_LIMIT = 2000
QUICK_REPLY_LIMIT = 13
QUICK_REPLY_TITLE_LIMIT = 20
QUICK_REPLY_PAYLOAD_LIMIT = 1000
# Sent as the message's `metadata`; Meta returns it in the echo, so our own echoes are known.
ECHO_METADATA = "care-handoff"


class MessengerSendError(Exception):
    """The Send API refused a message (``status`` < 500) or could not be reached (>= 500)."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    @property
    def retryable(self) -> bool:
        return self.status >= 500


class MessengerClient:
    """Sends to one Facebook Page's conversations; one HTTP session, opened on first use."""

    def __init__(
        self, page_access_token: str, graph_url: str = DEFAULT_GRAPH_URL, timeout: float = 15
    ) -> None:
        self._token = page_access_token
        self._url = graph_url.rstrip("/") + "/me/messages"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_message(
        self,
        psid: str,
        message: dict[str, Any],
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
    ) -> str:
        """Send one `message` object; returns Meta's message id."""
        body: dict[str, Any] = {
            "recipient": {"id": psid},
            "messaging_type": messaging_type,
            "message": {**message, "metadata": ECHO_METADATA},
        }
        if tag is not None:
            body["tag"] = tag
        answer = await self._post(body)
        return str(answer.get("message_id") or "")

    async def send_text(
        self,
        psid: str,
        text: str,
        quick_replies: list[dict[str, Any]] | None = None,
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
    ) -> list[str]:
        """Send `text` in as many messages as the 2000-character limit needs.

        Quick replies go with the last part, where the customer expects to answer.
        """
        parts = split_text(text)
        ids = []
        for index, part in enumerate(parts):
            message: dict[str, Any] = {"text": part}
            if quick_replies and index == len(parts) - 1:
                message["quick_replies"] = quick_replies
            ids.append(await self.send_message(psid, message, messaging_type, tag))
        return ids

    async def send_action(self, psid: str, action: str) -> None:
        """A sender action such as ``typing_on`` or ``mark_seen``."""
        await self._post({"recipient": {"id": psid}, "sender_action": action})

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self._url, params={"access_token": self._token}, json=body
            ) as answer:
                try:
                    data = await answer.json(content_type=None)
                except ValueError:
                    data = None
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # The URL carries the token: never put it in the message.
            raise MessengerSendError(
                503, f"Messenger could not be reached ({type(error).__name__})."
            ) from error
        if status == 200 and isinstance(data, dict) and "error" not in data:
            return data
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or f"Messenger answered HTTP {status}.")
        raise MessengerSendError(status if status != 200 else 502, message, error.get("code"))


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, preferring paragraph, line and
    word boundaries; never returns an empty list."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:  # no good boundary: cut hard rather than send tiny parts
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return parts


def quick_replies(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa buttons (``title``, ``payload``) as Messenger text quick replies, within the limits.

    Messenger shows at most 13, titles of at most 20 characters; extra buttons are dropped
    (and logged), long titles shortened with an ellipsis.
    """
    if len(buttons) > QUICK_REPLY_LIMIT:
        logger.warning(
            "Messenger shows %d quick replies at most; %d dropped",
            QUICK_REPLY_LIMIT,
            len(buttons) - QUICK_REPLY_LIMIT,
        )
    replies = []
    for button in buttons[:QUICK_REPLY_LIMIT]:
        title = str(button.get("title") or button.get("payload") or "").strip()
        payload = str(button.get("payload") or title)
        if not title:
            continue
        if len(title) > QUICK_REPLY_TITLE_LIMIT:
            title = title[: QUICK_REPLY_TITLE_LIMIT - 1].rstrip() + "…"
        replies.append(
            {
                "content_type": "text",
                "title": title,
                "payload": payload[:QUICK_REPLY_PAYLOAD_LIMIT],
            }
        )
    return replies
