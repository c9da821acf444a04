"""Messenger Send API client (no Rasa or sanic imports).

Every send is ``POST {graph_url}/me/messages`` (bearer page access token) with a JSON body
``{"recipient": {"id": <PSID>}, "messaging_type": ..., "message": {...}}`` or
``{"recipient": ..., "sender_action": "typing_on"}``; Meta answers
``{"recipient_id", "message_id"}`` or ``{"error": {"message", "type", "code", "error_subcode"}}``.
The shared Graph API client (`connectors.common.graph`) does the HTTP, retries and errors.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.common.graph import GraphClient, MediaDownload

logger = logging.getLogger(__name__)

TEXT_LIMIT = 2000
QUICK_REPLY_LIMIT = 13
QUICK_REPLY_TITLE_LIMIT = 20
QUICK_REPLY_PAYLOAD_LIMIT = 1000
# Sent as the message's `metadata`; Meta returns it in the echo, so our own echoes are known.
ECHO_METADATA = "care-handoff"


class MessengerClient(GraphClient):
    """Sends to one Facebook Page's conversations (`me/messages`) with its page token."""

    service = "Messenger"

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
        answer = await self.post("me/messages", body)
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
        await self.post("me/messages", {"recipient": {"id": psid}, "sender_action": action})

    async def profile_name(self, psid: str) -> str | None:
        """The customer's name from their user profile (needs the page's profile permission)."""
        profile = await self.get(f"{psid}?fields=name")
        name = profile.get("name")
        return name if isinstance(name, str) and name else None

    async def media(self, url: str, max_bytes: int) -> MediaDownload:
        """An attachment the customer sent: Messenger gives a signed CDN URL, read without
        the page token (it must not leave for another host)."""
        return await self.download(url, max_bytes, authorized=False)


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
