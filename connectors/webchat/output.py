"""Rasa's output channel for the web chat: bot responses go to every open tab of the customer."""

from __future__ import annotations

import time
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.webchat.frames import bot_line_id, outgoing_frame
from connectors.webchat.hub import ConnectionHub


class WebChatOutput(OutputChannel):
    """Sends each Rasa response as one frame (text, buttons and author together).

    Nothing is lost when no tab is open: the response is in the tracker and comes back with the
    history when the customer returns.
    """

    def __init__(self, hub: ConnectionHub, bot_name: str, bot_marker: str | None) -> None:
        self.hub = hub
        self.bot_name = bot_name
        self.bot_marker = bot_marker

    @classmethod
    def name(cls) -> str:
        return "webchat"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        frame = outgoing_frame(
            message,
            line_id=bot_line_id(message, message.get("timestamp")),
            at=message.get("timestamp") or time.time(),
            bot_name=self.bot_name,
            bot_marker=self.bot_marker,
        )
        if frame is not None:
            await self.hub.send(recipient_id, frame)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})
