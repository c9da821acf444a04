"""Outbound client for the WhatsApp Cloud API (`/{phone_number_id}/messages`, `/{media_id}`).

The shared Graph API client (`connectors.common.graph`) does the HTTP, the retries and the
errors; this adds WhatsApp's edges.
"""

from __future__ import annotations

from typing import Any

from connectors.common.graph import DEFAULT_GRAPH_URL, GraphApiError, GraphClient, MediaDownload

REENGAGEMENT_CODE = 131047  # more than 24 hours since the customer last wrote


class WhatsAppClient(GraphClient):
    """Sends message bodies (see `messages.py`) and returns the new message's wamid."""

    service = "WhatsApp"

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        graph_url: str = DEFAULT_GRAPH_URL,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 15.0,
    ) -> None:
        super().__init__(access_token, graph_url, attempts, backoff_seconds, timeout_seconds)
        self.phone_number_id = phone_number_id

    async def send(self, message: dict[str, Any]) -> str:
        body = await self.post(f"{self.phone_number_id}/messages", message)
        try:
            return str(body["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as error:
            raise GraphApiError(
                502, None, "WhatsApp answered without a message id", service=self.service
            ) from error

    async def media(self, media_id: str, max_bytes: int) -> MediaDownload:
        """A customer's media file: `GET /{media_id}` gives a short-lived URL, read with the
        same token."""
        info = await self.get(media_id)
        url = info.get("url")
        if not isinstance(url, str) or not url:
            raise GraphApiError(502, None, "WhatsApp gave no media URL", service=self.service)
        return await self.download(url, max_bytes)
