"""The WhatsApp Cloud API input channel (`connectors.whatsapp.WhatsAppInput`).

Routes under /webhooks/whatsapp/ come from the shared Meta webhook base
(`connectors.common.meta_webhook`): `GET /webhook` (verification), `POST /webhook` (signed event
batches: 200 once in the inbox, processed in the background), `POST /deliver` (agent and system
lines), `GET /media/<media_id>` (a customer's media file, for the handoff service) and `GET /`
(health). Messages for another business number (`phone_number_id`) are logged and left alone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.deliver import DeliverRequest
from connectors.common.graph import GraphApiError, MediaDownload
from connectors.common.limits import MEDIA_MAX_BYTES
from connectors.common.markers import mark_bot_text
from connectors.common.meta_webhook import (
    MalformedWebhook,
    MessageKey,
    MetaWebhookInput,
    OnNewMessage,
)
from connectors.common.status_report import (
    HandoffEndpoint,
    ReportingStatusSink,
    StatusReporter,
)
from connectors.whatsapp import messages
from connectors.whatsapp.client import WhatsAppClient
from connectors.whatsapp.delivery import Deliverer
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.parsing import (
    CHANNEL,
    WEBHOOK_OBJECT,
    Handling,
    InboundMessage,
    StatusUpdate,
    WhatsAppEvent,
    parse_webhook,
)
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.state import StatusSink, WhatsAppState
from contracts.delivery import StatusReport
from contracts.values import REPORTED_STATUSES, parse_time

logger = logging.getLogger(__name__)

UNSUPPORTED_REPLY = "Sorry, I can't read that kind of message yet; could you type it?"


class WhatsAppInput(MetaWebhookInput):
    channel = CHANNEL
    service = "WhatsApp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppInput:
        settings = WhatsAppSettings.from_credentials(credentials)
        return cls(settings, handoff=HandoffEndpoint.from_credentials(credentials))

    def __init__(
        self,
        settings: WhatsAppSettings,
        client: WhatsAppClient | None = None,
        status_sink: StatusSink | None = None,
        handoff: HandoffEndpoint | None = None,
    ) -> None:
        """`handoff`: where to report delivery statuses too (else they are only kept here)."""
        self.settings = settings
        self.whatsapp = client or WhatsAppClient(
            settings.phone_number_id, settings.access_token, settings.graph_url
        )
        super().__init__(settings, self.whatsapp)
        self.state = WhatsAppState(settings.state_path)
        self.status_sink: StatusSink = status_sink or self.state
        if status_sink is None and handoff is not None:
            reporter = StatusReporter(handoff, self.tasks)
            self.status_sink = ReportingStatusSink(self.state, reporter, delivery_report)
        self.deliverer = Deliverer(self.settings, self.whatsapp, self.state, self)

    def get_output_channel(self) -> WhatsAppOutput:
        return WhatsAppOutput(self.whatsapp, self.settings.bot_marker, self.state)

    def parse_events(self, payload: Any) -> Sequence[WhatsAppEvent]:
        if not isinstance(payload, dict) or payload.get("object") != WEBHOOK_OBJECT:
            raise MalformedWebhook(f'expected a JSON object with "object": "{WEBHOOK_OBJECT}"')
        return parse_webhook(payload).events()

    def message_key(self, event: Any) -> MessageKey | None:
        if isinstance(event, InboundMessage):
            return MessageKey(event.wa_id, event.message_id)
        return None

    async def handle_event(self, event: Any, on_new_message: OnNewMessage, app: Sanic) -> None:
        if isinstance(event, StatusUpdate):
            await self._status(event)
        elif isinstance(event, InboundMessage):
            await self._message(event, on_new_message)

    async def send_delivery(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        return await self.deliverer.send(request, req)

    async def open_media(self, media_id: str) -> MediaDownload:
        return await self.whatsapp.media(media_id, MEDIA_MAX_BYTES)

    async def _status(self, update: StatusUpdate) -> None:
        if update.recipient_id:  # a customer who changed number: their conversation
            conversation = await self.state.conversation_for(update.recipient_id)
            update = dataclasses.replace(update, recipient_id=conversation)
        await self.status_sink.record(update)

    async def _message(self, message: InboundMessage, on_new_message: OnNewMessage) -> None:
        ours = self.settings.phone_number_id
        if message.phone_number_id != ours:
            logger.warning(
                "WhatsApp message %s is for business number %s, not ours (%s): ignored",
                message.message_id,
                message.phone_number_id,
                ours,
            )
            return
        conversation = await self.state.conversation_for(message.wa_id)
        sent_at = message.timestamp or time.time()
        if message.new_wa_id:
            await self.state.adopt_number(conversation, message.new_wa_id, sent_at)
            logger.info("WhatsApp conversation %s now writes to a new number", conversation)
        await self.state.record_inbound(conversation, sent_at)
        if message.handling is Handling.UNSUPPORTED:
            text = mark_bot_text(UNSUPPORTED_REPLY, self.settings.bot_marker)
            try:
                await self.whatsapp.send(messages.text_message(message.wa_id, text))
            except GraphApiError as error:
                logger.error("Could not ask %s to type instead: %s", message.wa_id, error)
            return
        metadata = message.rasa_metadata()
        if message.new_wa_id:
            metadata["new_wa_id"] = message.new_wa_id
        await on_new_message(
            self.user_message(message.text, conversation, message.message_id, metadata)
        )


def delivery_report(update: StatusUpdate) -> StatusReport | None:
    """A WhatsApp status as the handoff service takes it; the recipient is the conversation."""
    if not update.recipient_id or update.status not in REPORTED_STATUSES:
        return None
    error = None
    if update.status == "failed":
        title = update.error_title or "WhatsApp did not deliver the message"
        error = f"{title} (WhatsApp error {update.error_code})" if update.error_code else title
    return StatusReport(
        channel=CHANNEL,
        conversation_id=update.recipient_id,
        channel_message_id=update.message_id,
        status=update.status,
        at=parse_time(update.timestamp or time.time()),
        error=error,
    )
