"""The Messenger input channel: Meta's webhook in, the bot's and agents' messages out.

Routes (Rasa mounts them under ``/webhooks/messenger``):
- ``GET /webhook``: Meta's subscription check (``hub.mode``, ``hub.verify_token``,
  ``hub.challenge``).
- ``POST /webhook``: signed events. 403 on a missing or wrong ``X-Hub-Signature-256``, 400 on a
  body that is not a page webhook, else 200 at once; every event of every entry is then handled
  in a background task, in order, each message id once.
- ``POST /deliver``: agent and system lines from the handoff service (connectors.common.deliver),
  sent within Messenger's messaging window (connectors.messenger.window).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.background import BackgroundTasks
from connectors.common.deliver import (
    DeliverError,
    DeliverRequest,
    customer_facing_text,
    deliver_error,
    deliver_once,
    parse_deliver_request,
)
from connectors.common.deliveries import DeliveryLedger
from connectors.common.limits import WEBHOOK_MAX_BYTES
from connectors.common.markers import DEFAULT_BOT_MARKER
from connectors.common.pii import masked_messages
from connectors.common.safe_json import JsonRejected, parse_json
from connectors.common.seen import SeenMessages
from connectors.common.signature import verify_meta_signature
from connectors.common.status_report import HandoffEndpoint, StatusReporter
from connectors.messenger.client import (
    DEFAULT_GRAPH_URL,
    ECHO_METADATA,
    MessengerClient,
    MessengerSendError,
)
from connectors.messenger.output import MessengerOutput
from connectors.messenger.parsing import (
    CHANNEL,
    CustomerMessage,
    Echo,
    MalformedWebhook,
    MessengerEvent,
    Receipt,
    parse_webhook,
)
from connectors.messenger.state import ConversationState
from connectors.messenger.window import OutsideWindow, human_reply_policy
from contracts.delivery import StatusReport
from contracts.values import parse_time

logger = logging.getLogger(__name__)

DEFAULT_STATE_PATH = Path("var/connectors.sqlite3")
REQUIRED_KEYS = ("verify_token", "app_secret", "page_access_token", "deliver_token")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class MessengerSettings:
    verify_token: str
    app_secret: str
    page_access_token: str
    deliver_token: str
    graph_url: str = DEFAULT_GRAPH_URL
    bot_marker: str | None = DEFAULT_BOT_MARKER
    state_path: Path = DEFAULT_STATE_PATH
    handoff: HandoffEndpoint | None = None  # where delivery statuses are reported too

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> MessengerSettings:
        missing = [key for key in REQUIRED_KEYS if not credentials.get(key)]
        if missing:
            raise RasaException(
                f"The messenger channel needs '{missing[0]}' in credentials.yml "
                f"(required: {', '.join(REQUIRED_KEYS)}; missing: {', '.join(missing)})."
            )
        return cls(
            **{key: str(credentials[key]) for key in REQUIRED_KEYS},
            graph_url=str(credentials.get("graph_url") or DEFAULT_GRAPH_URL),
            bot_marker=credentials.get("bot_marker", DEFAULT_BOT_MARKER),
            state_path=Path(credentials.get("state_path") or DEFAULT_STATE_PATH),
            handoff=HandoffEndpoint.from_credentials(credentials),
        )


class MessengerInput(InputChannel):
    """Facebook Messenger (a Facebook Page's inbox) as a Rasa channel."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessengerInput:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(MessengerSettings.from_credentials(credentials))

    def __init__(self, settings: MessengerSettings) -> None:
        self.settings = settings
        self.client = MessengerClient(settings.page_access_token, settings.graph_url)
        self.seen = SeenMessages(settings.state_path)
        self.state = ConversationState(settings.state_path)
        self.ledger = DeliveryLedger(settings.state_path, CHANNEL)
        self.tasks = BackgroundTasks()
        self.reporter = StatusReporter(settings.handoff, self.tasks) if settings.handoff else None

    def get_output_channel(self) -> MessengerOutput:
        """Lets Rasa answer outside a webhook call (e.g. ``trigger_intent?output_channel=latest``
        when the handoff service returns a conversation to the bot)."""
        return MessengerOutput(self.client, self.settings.bot_marker)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = masked_messages(on_new_message)
        webhook = Blueprint("messenger_webhook")

        @webhook.get("/")
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), self.settings.verify_token.encode()
            ):
                return response.text(request.args.get("hub.challenge") or "")
            return deliver_error(403, "invalid_verify_token", "The verify token does not match.")

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            raw = request.body or b""
            signature = request.headers.get("X-Hub-Signature-256")
            if not verify_meta_signature(raw, signature, self.settings.app_secret):
                return deliver_error(
                    403, "invalid_signature", "Missing or wrong X-Hub-Signature-256."
                )
            try:
                payload = parse_json(raw, max_bytes=WEBHOOK_MAX_BYTES)
            except JsonRejected as error:
                return deliver_error(error.http_status, error.reason, error.message)
            try:
                events = parse_webhook(payload)
            except MalformedWebhook as error:
                return deliver_error(400, "malformed_payload", f"Not a Messenger webhook: {error}.")
            self.tasks.spawn(self._handle_all(events, on_new_message, request.app))
            return response.json({"status": "received"})

        @webhook.post("/deliver")
        async def deliver(request: Request) -> HTTPResponse:
            return await self._deliver(request)

        @webhook.listener("after_server_stop")
        async def close_client(*_: Any) -> None:
            await self.client.close()

        return webhook

    async def _handle_all(
        self, events: list[MessengerEvent], on_new_message: OnNewMessage, app: Sanic
    ) -> None:
        for event in events:
            # The webhook is already acknowledged: a failing event is logged and must not
            # keep the rest of the batch (often other customers' messages) from being handled.
            try:
                await self._handle(event, on_new_message, app)
            except Exception:
                logger.exception("Messenger event failed: %r", event)

    async def _handle(
        self, event: MessengerEvent, on_new_message: OnNewMessage, app: Sanic
    ) -> None:
        if isinstance(event, CustomerMessage):
            await self._customer_message(event, on_new_message, app)
        elif isinstance(event, Receipt):
            await self.state.record_receipt(event)
            logger.info(
                "Messenger %s up to %d for %s", event.status, event.watermark_ms, event.psid
            )
            if self.reporter is not None:
                self.reporter.report(receipt_reports(event))
        elif isinstance(event, Echo):
            # The page's own messages are never customer messages. Ours carry ECHO_METADATA;
            # others were written in the Page inbox or by another app.
            ours = event.metadata == ECHO_METADATA
            logger.log(
                logging.DEBUG if ours else logging.INFO,
                "Messenger echo %s to %s (%s)",
                event.mid,
                event.psid,
                "sent by this connector" if ours else "sent outside this connector",
            )

    async def _customer_message(
        self, message: CustomerMessage, on_new_message: OnNewMessage, app: Sanic
    ) -> None:
        if not await self.seen.first_time(CHANNEL, message.mid):
            logger.info("Messenger message %s already handled; ignored", message.mid)
            return
        sent_at = message.timestamp_ms / 1000 if message.timestamp_ms else time.time()
        await self.state.customer_wrote(message.psid, sent_at)
        if await _bot_is_in_charge(app, message.psid):
            await self._typing(message.psid)
        await on_new_message(
            UserMessage(
                message.text,
                self.get_output_channel(),
                message.psid,
                input_channel=CHANNEL,
                message_id=message.mid,
                metadata=message.metadata(),
            )
        )

    async def _typing(self, psid: str) -> None:
        try:
            await self.client.send_action(psid, "typing_on")
        except MessengerSendError as error:  # cosmetic: the reply itself still goes out
            logger.warning("Messenger typing indicator for %s failed: %s", psid, error)

    async def _deliver(self, request: Request) -> HTTPResponse:
        try:
            req = parse_deliver_request(request, self.settings.deliver_token)
        except DeliverError as error:
            return error.response()
        if req.channel != CHANNEL:
            return deliver_error(
                400, "wrong_channel", f"This endpoint delivers to Messenger, not '{req.channel}'."
            )
        return await deliver_once(request, self.ledger, req, partial(self._send, request))

    async def _send(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        last = await self._last_customer_message_at(request.app, req.conversation_id)
        if last is None:
            return deliver_error(
                422,
                "no_customer_message",
                "This customer has not written to the page on Messenger, so it cannot reply.",
            )
        try:
            policy = human_reply_policy(last, time.time())
        except OutsideWindow as error:
            return deliver_error(422, "outside_messaging_window", str(error))
        try:
            ids = await self.client.send_text(
                req.conversation_id,
                customer_facing_text(req),
                messaging_type=policy.messaging_type,
                tag=policy.tag,
            )
        except MessengerSendError as error:
            if error.retryable:
                return deliver_error(
                    502, "channel_unavailable", f"Messenger did not take it: {error.message}"
                )
            return deliver_error(
                422, "channel_rejected", f"Messenger refused the message: {error.message}"
            )
        return response.json({"status": "sent", "channel_message_id": ids[0]})

    async def _last_customer_message_at(self, app: Sanic, psid: str) -> float | None:
        """From the state file, else from the tracker (conversations older than the file)."""
        at = await self.state.last_customer_message_at(psid)
        if at is not None:
            return at
        tracker = await _tracker(app, psid)
        if tracker is None:
            return None
        # Only Messenger messages count: intents triggered through Rasa's API (return to bot)
        # are UserUttered events too, but the customer did not write them.
        return next(
            (
                event.timestamp
                for event in reversed(tracker.events)
                if isinstance(event, UserUttered) and event.input_channel == CHANNEL
            ),
            None,
        )


def receipt_reports(receipt: Receipt) -> list[StatusReport]:
    """The statuses a receipt states exactly: one per message id it lists.

    A watermark alone ("everything sent before this time") is not translated: this connector
    does not keep when it sent each message, so it could not tell which lines it covers.
    """
    at = parse_time(receipt.watermark_ms / 1000)
    return [StatusReport(CHANNEL, receipt.psid, mid, receipt.status, at) for mid in receipt.mids]


async def _tracker(app: Sanic, sender_id: str) -> Any:
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return None
    return await agent.tracker_store.retrieve(sender_id)


async def _bot_is_in_charge(app: Sanic, psid: str) -> bool:
    """False while a person owns the conversation (paused tracker): no typing bubbles then."""
    tracker = await _tracker(app, psid)
    return tracker is None or not tracker.is_paused()
