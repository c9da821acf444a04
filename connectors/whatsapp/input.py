"""The WhatsApp Cloud API input channel (`connectors.whatsapp.WhatsAppInput`).

Routes under /webhooks/whatsapp/: `GET /webhook` (Meta's verification handshake), `POST /webhook`
(signed event batches: 200 at once, processed in the background), `POST /deliver` (agent and
system lines from the handoff service) and `GET /` (health).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.background import BackgroundTasks
from connectors.common.deliver import deliver_error
from connectors.common.deliveries import DeliveryLedger
from connectors.common.limits import WEBHOOK_MAX_BYTES
from connectors.common.markers import mark_bot_text
from connectors.common.pii import masked_messages
from connectors.common.safe_json import JsonRejected, parse_json
from connectors.common.seen import SeenMessages
from connectors.common.signature import verify_meta_signature
from connectors.common.status_report import (
    HandoffEndpoint,
    ReportingStatusSink,
    StatusReporter,
)
from connectors.whatsapp import messages
from connectors.whatsapp.client import GraphApiError, WhatsAppClient
from connectors.whatsapp.delivery import Deliverer
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.parsing import (
    CHANNEL,
    Handling,
    InboundMessage,
    StatusUpdate,
    parse_webhook,
)
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.state import StatusSink, WhatsAppState
from contracts.delivery import StatusReport
from contracts.values import REPORTED_STATUSES, parse_time

logger = logging.getLogger(__name__)

UNSUPPORTED_REPLY = "Sorry, I can't read that kind of message yet; could you type it?"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WhatsAppInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

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
        self.client = client or WhatsAppClient(
            settings.phone_number_id, settings.access_token, settings.graph_url
        )
        self.state = WhatsAppState(settings.state_path)
        self.seen = SeenMessages(settings.state_path)
        self.background = BackgroundTasks()
        self.status_sink: StatusSink = status_sink or self.state
        if status_sink is None and handoff is not None:
            reporter = StatusReporter(handoff, self.background)
            self.status_sink = ReportingStatusSink(self.state, reporter, delivery_report)

    def get_output_channel(self) -> WhatsAppOutput:
        return WhatsAppOutput(self.client, self.settings.bot_marker)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = masked_messages(on_new_message)
        bp = Blueprint("whatsapp_cloud_api_webhook", __name__)
        ledger = DeliveryLedger(self.settings.state_path, CHANNEL)
        deliverer = Deliverer(self.settings, self.client, self.state, ledger)

        @bp.get("/")
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            if (
                args.get("hub.mode") == "subscribe"
                and args.get("hub.verify_token") == self.settings.verify_token
                and args.get("hub.challenge")
            ):
                return response.text(args.get("hub.challenge"))
            return response.text("Verification failed", status=403)

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            raw = request.body or b""
            signature = request.headers.get("X-Hub-Signature-256")
            if not verify_meta_signature(raw, signature, self.settings.app_secret):
                return response.json(
                    {"error": "invalid_signature", "message": "X-Hub-Signature-256 is wrong."},
                    status=403,
                )
            try:
                payload = parse_json(raw, max_bytes=WEBHOOK_MAX_BYTES)
            except JsonRejected as error:
                return deliver_error(error.http_status, error.reason, error.message)
            if not isinstance(payload, dict):
                return deliver_error(400, "malformed_json", "The body is not a JSON object.")
            self.background.spawn(self.process(payload, on_new_message))
            return response.json({"status": "received"})

        @bp.post("/deliver")
        async def deliver(request: Request) -> HTTPResponse:
            return await deliverer.handle(request)

        return bp

    async def process(self, payload: dict[str, Any], on_new_message: OnNewMessage) -> None:
        """Handle every status and message of a webhook batch, each message once ever."""
        batch = parse_webhook(payload)
        for status in batch.statuses:
            await self.status_sink.record(status)
        for message in batch.messages:
            if not await self.seen.first_time(CHANNEL, message.message_id):
                logger.info("WhatsApp message %s already handled", message.message_id)
                continue
            await self.state.record_inbound(message.wa_id, message.timestamp or time.time())
            try:
                await self._handle(message, on_new_message)
            except Exception:  # one bad turn must not drop the rest of the batch
                logger.exception("WhatsApp message %s could not be handled", message.message_id)

    async def _handle(self, message: InboundMessage, on_new_message: OnNewMessage) -> None:
        if message.handling is Handling.IGNORED:
            return
        if message.handling is Handling.UNSUPPORTED:
            text = mark_bot_text(UNSUPPORTED_REPLY, self.settings.bot_marker)
            try:
                await self.client.send(messages.text_message(message.wa_id, text))
            except GraphApiError as error:
                logger.error("Could not ask %s to type instead: %s", message.wa_id, error)
            return
        await on_new_message(
            UserMessage(
                text=message.text,
                output_channel=self.get_output_channel(),
                sender_id=message.wa_id,
                input_channel=CHANNEL,
                message_id=message.message_id,
                metadata=message.rasa_metadata(),
            )
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
