"""Rasa output channel: bot turns leave through the Cloud API."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.common.graph import GraphApiError
from connectors.common.markers import author_of, mark_bot_text
from connectors.whatsapp import messages
from connectors.whatsapp.client import WhatsAppClient
from connectors.whatsapp.parsing import CHANNEL
from connectors.whatsapp.state import WhatsAppState

logger = logging.getLogger(__name__)


class WhatsAppOutput(OutputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(
        self, client: WhatsAppClient, bot_marker: str | None, state: WhatsAppState | None = None
    ) -> None:
        """`state`: where a customer's changed number is found (the conversation keeps the
        first number as its id)."""
        self.client = client
        self.bot_marker = bot_marker
        self.state = state

    def _marked(self, text: str, kwargs: dict[str, Any]) -> str:
        # Lines Rasa sends on behalf of an agent (metadata author_type) carry no bot marker.
        return mark_bot_text(text, self.bot_marker) if author_of(kwargs) == "bot" else text

    async def _send(self, message: dict[str, Any]) -> None:
        # A failed send must not abort the bot's turn (the tracker would not be saved);
        # Meta also reports asynchronous failures through status webhooks.
        if self.state is not None and isinstance(message.get("to"), str):
            message = {**message, "to": await self.state.address_of(message["to"])}
        try:
            await self.client.send(message)
        except GraphApiError as error:
            logger.error("WhatsApp message to %s not sent: %s", message.get("to"), error)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(messages.text_message(recipient_id, self._marked(text, kwargs)))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._send(messages.choice_message(recipient_id, self._marked(text, kwargs), buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(messages.image_message(recipient_id, image))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A `custom` response is a Cloud API message body; the recipient is filled in."""
        await self._send({"messaging_product": "whatsapp", **json_message, "to": recipient_id})
