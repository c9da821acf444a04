"""`POST /webhooks/whatsapp/deliver`: agent and system lines from the handoff service.

WhatsApp allows free-form messages only within 24 hours of the customer's last message (the
customer service window); after that only approved templates may be sent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.deliver import (
    DeliverError,
    DeliverRequest,
    customer_facing_text,
    deliver_error,
    deliver_once,
    parse_deliver_request,
)
from connectors.common.deliveries import DeliveryLedger
from connectors.whatsapp import messages
from connectors.whatsapp.client import GraphApiError, WhatsAppClient
from connectors.whatsapp.parsing import CHANNEL
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.state import WhatsAppState

logger = logging.getLogger(__name__)

SERVICE_WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Deliverer:
    settings: WhatsAppSettings
    client: WhatsAppClient
    state: WhatsAppState
    ledger: DeliveryLedger

    async def handle(self, request: Request) -> HTTPResponse:
        try:
            req = parse_deliver_request(request, self.settings.deliver_token)
        except DeliverError as error:
            return error.response()
        if req.channel != CHANNEL:
            return deliver_error(400, "invalid_field", f"This endpoint delivers '{CHANNEL}' only.")
        return await deliver_once(request, self.ledger, req, partial(self._send, request))

    async def _send(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        last_wrote = await self._last_customer_message(request, req.conversation_id)
        inside = last_wrote is not None and time.time() - last_wrote < SERVICE_WINDOW_SECONDS
        template = self.settings.template_name
        if not inside and not template:
            return deliver_error(
                422,
                "outside_service_window",
                f"{_when(last_wrote)}; WhatsApp only allows template messages after 24 hours "
                "and none is configured.",
            )
        if inside:
            message = messages.text_message(
                req.conversation_id, customer_facing_text(req, self.settings.brand)
            )
        else:
            message = messages.template_message(
                req.conversation_id, template, self.settings.template_language
            )
        try:
            channel_message_id = await self.client.send(message)
        except GraphApiError as error:
            return _refusal(error)
        answer = {"status": "sent", "channel_message_id": channel_message_id}
        if not inside:
            answer |= {
                "template": True,
                "note": f"{_when(last_wrote)}, so the approved template "
                f"'{template}' was sent instead of this text; reply again once the customer "
                "answers.",
            }
        return response.json(answer)

    async def _last_customer_message(self, request: Request, wa_id: str) -> float | None:
        """From our own record of inbound messages, else the tracker's last user event."""
        at = await self.state.last_inbound(wa_id)
        agent = getattr(request.app.ctx, "agent", None)
        if at is not None or agent is None or agent.tracker_store is None:
            return at
        tracker = await agent.tracker_store.retrieve(wa_id)
        user_events = [e for e in tracker.events if e.type_name == "user"] if tracker else []
        return user_events[-1].timestamp if user_events else None


def _when(last_wrote: float | None) -> str:
    if last_wrote is None:
        return "The customer has not written on WhatsApp yet"
    hours = round((time.time() - last_wrote) / 3600)
    return f"The customer last wrote {hours} hour{'s' if hours != 1 else ''} ago"


def _refusal(error: GraphApiError) -> HTTPResponse:
    if error.outside_service_window:
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
