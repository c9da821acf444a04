"""The one webhook base of the Meta channels (WhatsApp Cloud API, Messenger).

A channel subclasses `MetaWebhookInput` and says how to read its events (`parse_events`), what
identifies a customer message (`message_key`), what to do with one event (`handle_event`), how to
send an agent's line (`send_delivery`) and how to open a customer's media file (`open_media`).
The routes, mounted by Rasa under ``/webhooks/<channel>/``, are written once, here:

- ``GET /``: health;
- ``GET /webhook``: Meta's subscription check, the verify token compared in constant time;
  403 ``invalid_verify_token`` otherwise;
- ``POST /webhook``: 403 ``invalid_signature`` on a missing or wrong ``X-Hub-Signature-256``
  (HMAC-SHA256 over the raw body), 4xx on a body that is not this channel's webhook, else 200
  once its customer messages are in the channel's `Inbox` (503 if they could not be stored:
  Meta retries). Every event of every entry is then handled in order in a background task, each
  message id once ever (Meta retries too), and a failing event never keeps the others from being
  handled. A customer message whose turn did not finish (the process died, Rasa failed) is run
  again after the inbox's lease, by any process sharing the state file (`connectors.common.turns`);
  delivery statuses and receipts are not kept there (a later status supersedes a lost one);
- ``POST /deliver``: agent and system lines from the handoff service
  (`connectors.common.deliver.serve_delivery`: bearer token, the one answer for a wrong channel,
  each message id sent at most once);
- ``GET /media/<media_id>``: a customer's attachment, fetched from Meta with the channel's
  credentials and streamed back, for the same bearer token as ``/deliver``.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.constants import IS_EXTERNAL
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.background import BackgroundTasks
from connectors.common.deliver import (
    DeliverError,
    DeliverRequest,
    deliver_error,
    require_delivery_token,
    serve_delivery,
)
from connectors.common.deliveries import DeliveryLedger
from connectors.common.graph import GraphApiError, GraphClient, MediaDownload
from connectors.common.inbox import Inbox, Pending
from connectors.common.limits import WEBHOOK_MAX_BYTES
from connectors.common.pii import masked_messages
from connectors.common.safe_json import JsonRejected, parse_json
from connectors.common.signature import verify_meta_signature
from connectors.common.startup import freeze_loaded_objects
from connectors.common.turns import OnNewMessage, Replayer, unless_stored

logger = logging.getLogger(__name__)

EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's text for an intent triggered through its HTTP API


class MalformedWebhook(ValueError):
    """The body is JSON but not this channel's webhook."""


class UnknownMedia(LookupError):
    """No attachment of this channel has this media id."""


class MessageKey(NamedTuple):
    """What identifies a customer message in the inbox."""

    sender: str  # the channel's id of the customer (WhatsApp's wa_id, Messenger's PSID)
    message_id: str  # the channel's message id (Meta's wamid / mid)


class WebhookSettings(Protocol):
    @property
    def verify_token(self) -> str: ...
    @property
    def app_secret(self) -> str: ...
    @property
    def deliver_token(self) -> str: ...
    @property
    def state_path(self) -> Path: ...
    @property
    def inbox_lease_seconds(self) -> float: ...


class MetaWebhookInput(InputChannel):
    """The shared part of the WhatsApp and Messenger input channels."""

    channel: str = ""  # the Rasa input channel name, set by each subclass
    service: str = ""  # how people call it in answers ("WhatsApp")

    def __init__(self, settings: WebhookSettings, client: GraphClient) -> None:
        self.webhook_settings = settings
        self.client = client
        self.inbox = Inbox(settings.state_path, self.channel, settings.inbox_lease_seconds)
        self.replayer = Replayer(self.inbox, self.service)
        self.ledger = DeliveryLedger(settings.state_path, self.channel)
        self.tasks = BackgroundTasks()

    @classmethod
    def name(cls) -> str:
        return cls.channel

    # What each channel provides

    def parse_events(self, payload: Any) -> Sequence[Any]:
        """Every event of the webhook body in Meta's order; `MalformedWebhook` if it is not
        this channel's webhook."""
        raise NotImplementedError

    def message_key(self, event: Any) -> MessageKey | None:
        """The key of a customer message (kept in the inbox, handled once ever), else None."""
        raise NotImplementedError

    async def handle_event(self, event: Any, on_new_message: OnNewMessage, app: Sanic) -> None:
        raise NotImplementedError

    async def send_delivery(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        raise NotImplementedError

    async def open_media(self, media_id: str) -> MediaDownload:
        """The attachment's bytes from Meta; `UnknownMedia` or `GraphApiError` if not."""
        raise NotImplementedError

    # The shared routes

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = masked_messages(on_new_message)
        bp = Blueprint(f"{self.channel}_meta_webhook")

        @bp.get("/")
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            return self.verify(request)

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        @bp.post("/deliver")
        async def deliver(request: Request) -> HTTPResponse:
            return await serve_delivery(
                request,
                token=self.webhook_settings.deliver_token,
                channel=self.channel,
                ledger=self.ledger,
                send=lambda req: self.send_delivery(request, req),
            )

        @bp.get("/media/<media_id>")
        async def media(request: Request, media_id: str) -> HTTPResponse | None:
            return await self.serve_media(request, media_id)

        bp.listener("after_server_start")(freeze_loaded_objects)

        @bp.listener("after_server_start")
        async def start_replaying(app: Sanic, _loop: Any) -> None:
            replayed = unless_stored(app, on_new_message)
            self.replayer.start(lambda pending: self.replay(pending, replayed, app))

        @bp.listener("before_server_stop")
        async def stop_replaying(*_: Any) -> None:
            self.replayer.stop()

        @bp.listener("after_server_stop")
        async def close_client(*_: Any) -> None:
            await self.client.close()

        return bp

    def verify(self, request: Request) -> HTTPResponse:
        token = str(request.args.get("hub.verify_token") or "")
        challenge = request.args.get("hub.challenge")
        expected = self.webhook_settings.verify_token
        if (
            request.args.get("hub.mode") == "subscribe"
            and challenge
            and expected
            and hmac.compare_digest(token.encode(), expected.encode())
        ):
            return response.text(str(challenge))
        return deliver_error(403, "invalid_verify_token", "The verify token does not match.")

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        raw = request.body or b""
        signature = request.headers.get("X-Hub-Signature-256")
        if not verify_meta_signature(raw, signature, self.webhook_settings.app_secret):
            return deliver_error(403, "invalid_signature", "Missing or wrong X-Hub-Signature-256.")
        try:
            payload = parse_json(raw, max_bytes=WEBHOOK_MAX_BYTES)
        except JsonRejected as error:
            return deliver_error(error.http_status, error.reason, error.message)
        try:
            events = self.parse_events(payload)
        except MalformedWebhook as error:
            return deliver_error(
                400, "malformed_payload", f"Not a {self.service} webhook: {error}."
            )
        keyed = [(event, self.message_key(event)) for event in events]
        kept = {"webhook": payload}  # a replay parses it again and takes its own message
        try:
            fresh = await self.inbox.accept_all(
                [(key.sender, key.message_id, kept) for _, key in keyed if key is not None]
            )
        except sqlite3.Error:
            logger.exception("%s webhook not stored; Meta will send it again", self.service)
            return deliver_error(503, "not_stored", "The messages could not be stored.")
        self.tasks.spawn(self.handle_all(keyed, fresh, on_new_message, request.app))
        return response.json({"status": "received"})

    async def handle_all(
        self,
        keyed: Sequence[tuple[Any, MessageKey | None]],
        fresh: set[str],
        on_new_message: OnNewMessage,
        app: Sanic,
    ) -> None:
        """Each event in order, but the customer messages accepted before (Meta's retries); the
        webhook is already acknowledged, so a failing event is logged and the rest of the batch
        (often other customers' messages) still handled."""
        for event, key in keyed:
            if key is not None and key.message_id not in fresh:
                logger.info("%s message %s already handled; ignored", self.service, key.message_id)
                continue
            await self.handle_one(event, key, on_new_message, app)

    async def handle_one(
        self, event: Any, key: MessageKey | None, on_new_message: OnNewMessage, app: Sanic
    ) -> None:
        """A customer message leaves the inbox only once its turn ran to the end: one that
        failed stays, and is run again after the lease."""
        try:
            await self.handle_event(event, on_new_message, app)
        except Exception:
            message_id = None if key is None else key.message_id
            logger.exception("%s event %s could not be handled", self.service, message_id)
            return
        if key is not None:
            await self.inbox.finish(key.sender, key.message_id)

    async def replay(self, pending: Pending, on_new_message: OnNewMessage, app: Sanic) -> None:
        for event in self.parse_events(pending.body["webhook"]):
            key = self.message_key(event)
            if key is not None and key.message_id == pending.message_id:
                await self.handle_one(event, key, on_new_message, app)
                return

    async def serve_media(self, request: Request, media_id: str) -> HTTPResponse | None:
        try:
            require_delivery_token(request, self.webhook_settings.deliver_token)
        except DeliverError as error:
            return error.response()
        try:
            download = await self.open_media(media_id)
        except UnknownMedia:
            return deliver_error(404, "unknown_media", f"No {self.service} media '{media_id}'.")
        except GraphApiError as error:
            if error.http_status == 413:
                return deliver_error(413, "media_too_large", f"Not served: {error.title}.")
            if error.transient:
                return deliver_error(502, "channel_unavailable", str(error))
            return deliver_error(404, "unknown_media", f"{self.service} refused it: {error.title}")
        headers = {
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        if download.size is not None:
            headers["Content-Length"] = str(download.size)
        stream = await request.respond(headers=headers, content_type=download.mime_type)
        async for chunk in download.chunks:
            await stream.send(chunk)
        await stream.eof()
        return None

    # Helpers for the channels

    def user_message(
        self, text: str, sender_id: str, message_id: str, metadata: dict[str, Any]
    ) -> UserMessage:
        return UserMessage(
            text=text,
            output_channel=self.get_output_channel(),
            sender_id=sender_id,
            input_channel=self.channel,
            message_id=message_id,
            metadata=metadata,
        )

    async def last_customer_message_in_tracker(self, app: Sanic, sender_id: str) -> float | None:
        """When the customer last wrote on this channel, by the tracker (conversations older
        than the connector's state file)."""
        tracker = await tracker_of(app, sender_id)
        return None if tracker is None else last_customer_message(tracker, self.channel)


def last_customer_message(tracker: DialogueStateTracker, channel: str) -> float | None:
    """The time of the last user event the customer wrote on `channel`.

    Intents triggered through Rasa's HTTP API (the handoff service returning a conversation to
    the bot) are user events too, with the latest input channel, but the customer did not
    write them: they carry `is_external` and the ``EXTERNAL: `` text. Intent messages another
    process sent through Rasa's API (``/intent``) carry no input channel.
    """
    for event in reversed(tracker.events):
        if (
            isinstance(event, UserUttered)
            and event.input_channel == channel
            and not (event.metadata or {}).get(IS_EXTERNAL)
            and not (event.text or "").startswith(EXTERNAL_PREFIX)
        ):
            return event.timestamp
    return None


async def tracker_of(app: Sanic, sender_id: str) -> DialogueStateTracker | None:
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return None
    return await agent.tracker_store.retrieve(sender_id)
