"""How `POST /webhooks/whatsapp/deliver` sends agent and system lines from the handoff service.

WhatsApp allows free-form messages only within 24 hours of the customer's last message (the
customer service window); after that only approved templates may be sent. The handoff service
decides (contracts/channel_windows.py) and says so in the request's `template`; this side
checks the window again with its own record of the customer's messages.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.deliver import DeliverRequest, customer_facing_text, deliver_error
from connectors.common.graph import GraphApiError
from connectors.common.meta_webhook import MetaWebhookInput
from connectors.whatsapp import messages
from connectors.whatsapp.client import REENGAGEMENT_CODE, WhatsAppClient
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.state import WhatsAppState

logger = logging.getLogger(__name__)

SERVICE_WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Deliverer:
    """The WhatsApp `send` of the shared deliver endpoint (`serve_delivery`)."""

    settings: WhatsAppSettings
    client: WhatsAppClient
    state: WhatsAppState
    channel: MetaWebhookInput

    async def send(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        """A template when the service asks for one (it may go at any time); free text only
        inside the window, else 422: it is never swapped for something the agent did not send."""
        to = await self.state.address_of(req.conversation_id)
        if req.template is not None:
            template = req.template
            message = messages.template_message(
                to, template.name, template.language, template.parameters, template.buttons
            )
        else:
            last_wrote = await self._last_customer_message(request, req.conversation_id)
            if last_wrote is None or time.time() - last_wrote >= SERVICE_WINDOW_SECONDS:
                return deliver_error(
                    422,
                    "outside_service_window",
                    f"{_when(last_wrote)}; WhatsApp only allows a template after 24 hours, "
                    "not free text.",
                )
            message = messages.text_message(to, customer_facing_text(req, self.settings.brand))
        try:
            channel_message_id = await self.client.send(message)
        except GraphApiError as error:
            return _refusal(error)
        answer = {"status": "sent", "channel_message_id": channel_message_id}
        return response.json(answer | ({"template": True} if req.template else {}))

    async def _last_customer_message(self, request: Request, wa_id: str) -> float | None:
        """From our own record of inbound messages, else the tracker's last customer message."""
        at = await self.state.last_inbound(wa_id)
        if at is not None:
            return at
        return await self.channel.last_customer_message_in_tracker(request.app, wa_id)


def _when(last_wrote: float | None) -> str:
    if last_wrote is None:
        return "The customer has not written on WhatsApp yet"
    hours = round((time.time() - last_wrote) / 3600)
    return f"The customer last wrote {hours} hour{'s' if hours != 1 else ''} ago"


def _refusal(error: GraphApiError) -> HTTPResponse:
    if error.code == REENGAGEMENT_CODE:
        return deliver_error(
            422,
            "outside_service_window",
            f"WhatsApp refused the message: {error.title}. More than 24 hours have passed since "
            "the customer last wrote.",
        )
    if error.transient:
        return deliver_error(
            502, "channel_unavailable", f"WhatsApp is not taking messages now: {error.title}."
        )
    details = f" ({error.details})" if error.details else ""
    return deliver_error(
        422, "channel_rejected", f"WhatsApp refused the message: {error.title}{details}."
    )
