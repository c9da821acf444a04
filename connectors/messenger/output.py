"""Rasa output channel for Messenger: bot messages marked as such, buttons as quick replies."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.common.markers import author_of, mark_bot_text
from connectors.messenger.client import MessengerClient, quick_replies
from connectors.messenger.parsing import CHANNEL


class MessengerOutput(OutputChannel):
    """Sends the bot's turn; Rasa passes a bot event's metadata as keyword arguments."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, client: MessengerClient, bot_marker: str | None) -> None:
        self.client = client
        self.bot_marker = bot_marker

    def _visible(self, text: str, metadata: dict[str, Any]) -> str:
        """Bot lines carry the marker; agent/system lines sent through Rasa go as written."""
        return mark_bot_text(text, self.bot_marker) if author_of(metadata) == "bot" else text

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.client.send_text(recipient_id, self._visible(text, kwargs))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.client.send_text(
            recipient_id, self._visible(text, kwargs), quick_replies=quick_replies(buttons)
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.client.send_message(
            recipient_id, {"attachment": {"type": "image", "payload": {"url": image}}}
        )

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A `custom` response is a Messenger message object (e.g. a template), sent as is."""
        await self.client.send_message(recipient_id, json_message)
