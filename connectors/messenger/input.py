"""The Messenger input channel: Meta's webhook in, the bot's and agents' messages out.

Routes (Rasa mounts them under ``/webhooks/messenger``) come from the shared Meta webhook base
(`connectors.common.meta_webhook`): ``GET /webhook`` (subscription check), ``POST /webhook``
(signed events, 200 once in the inbox, handled in the background, each message once),
``POST /deliver`` (agent and system lines, sent within Messenger's messaging window,
connectors.messenger.window) and ``GET /media/<media_id>`` (an attachment the customer sent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.shared.exceptions import RasaException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.deliver import DeliverRequest, customer_facing_text, deliver_error
from connectors.common.graph import DEFAULT_GRAPH_URL, GraphApiError, MediaDownload
from connectors.common.inbox import DEFAULT_LEASE_SECONDS
from connectors.common.limits import MEDIA_MAX_BYTES
from connectors.common.markers import DEFAULT_BOT_MARKER
from connectors.common.meta_webhook import (
    MessageKey,
    MetaWebhookInput,
    OnNewMessage,
    UnknownMedia,
    tracker_of,
)
from connectors.common.status_report import HandoffEndpoint, StatusReporter
from connectors.messenger.client import ECHO_METADATA, MessengerClient
from connectors.messenger.output import MessengerOutput
from connectors.messenger.parsing import (
    CHANNEL,
    CustomerMessage,
    Echo,
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
    inbox_lease_seconds: float = DEFAULT_LEASE_SECONDS  # `connectors.common.inbox`

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
            inbox_lease_seconds=float(
                credentials.get("inbox_lease_seconds") or DEFAULT_LEASE_SECONDS
            ),
        )


class MessengerInput(MetaWebhookInput):
    """Facebook Messenger (a Facebook Page's inbox) as a Rasa channel."""

    channel = CHANNEL
    service = "Messenger"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessengerInput:
        if not credentials:
            raise RasaException(
                f"To use the {cls.name()} input channel, give it its keys in credentials.yml."
            )
        return cls(MessengerSettings.from_credentials(credentials))

    def __init__(self, settings: MessengerSettings) -> None:
        self.settings = settings
        self.messenger = MessengerClient(settings.page_access_token, settings.graph_url)
        super().__init__(settings, self.messenger)
        self.state = ConversationState(settings.state_path)
        self.reporter = StatusReporter(settings.handoff, self.tasks) if settings.handoff else None

    def get_output_channel(self) -> MessengerOutput:
        """Lets Rasa answer outside a webhook call (e.g. ``trigger_intent?output_channel=latest``
        when the handoff service returns a conversation to the bot)."""
        return MessengerOutput(self.messenger, self.settings.bot_marker)

    def parse_events(self, payload: Any) -> Sequence[MessengerEvent]:
        return parse_webhook(payload)

    def message_key(self, event: Any) -> MessageKey | None:
        return MessageKey(event.psid, event.mid) if isinstance(event, CustomerMessage) else None

    async def handle_event(self, event: Any, on_new_message: OnNewMessage, app: Sanic) -> None:
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

    async def open_media(self, media_id: str) -> MediaDownload:
        url = await self.state.media_url(media_id)
        if url is None:
            raise UnknownMedia(media_id)
        return await self.messenger.media(url, MEDIA_MAX_BYTES)

    async def _customer_message(
        self, message: CustomerMessage, on_new_message: OnNewMessage, app: Sanic
    ) -> None:
        sent_at = message.timestamp_ms / 1000 if message.timestamp_ms else time.time()
        await self.state.customer_wrote(message.psid, sent_at)
        await self.state.remember_media(message.psid, message.media())
        if await _bot_is_in_charge(app, message.psid):
            await self._typing(message.psid)
        metadata = message.metadata()
        metadata["customer_name"] = await self._name_of(message.psid)
        await on_new_message(self.user_message(message.text, message.psid, message.mid, metadata))

    async def _name_of(self, psid: str) -> str | None:
        """The customer's name (Graph API user profile, kept once fetched); None if Meta does
        not give it (the page lacks the permission, or the profile is private)."""
        name = await self.state.name_of(psid)
        if name is not None:
            return name
        try:
            name = await self.messenger.profile_name(psid)
        except GraphApiError as error:
            logger.info("Messenger name of %s not available: %s", psid, error)
            return None
        if name:
            await self.state.remember_name(psid, name)
        return name

    async def _typing(self, psid: str) -> None:
        try:
            await self.messenger.send_action(psid, "typing_on")
        except GraphApiError as error:  # cosmetic: the reply itself still goes out
            logger.warning("Messenger typing indicator for %s failed: %s", psid, error)

    async def send_delivery(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        last = await self._last_customer_message_at(request.app, req.conversation_id)
        if last is None:
            return deliver_error(
                422,
                "no_customer_message",
                "This customer has not written to the page on Messenger, so it cannot reply.",
            )
        if req.template is not None:
            return deliver_error(
                422, "template_unsupported", "Messenger replies have no templates here."
            )
        try:
            policy = human_reply_policy(last, time.time())
        except OutsideWindow as error:
            return deliver_error(422, "outside_messaging_window", str(error))
        if policy.tag is not None and req.author_type != "agent":
            return deliver_error(
                422,
                "outside_messaging_window",
                "After 24 hours Messenger takes only a person's reply (with the human agent"
                " tag), not an automatic notice.",
            )
        try:
            ids = await self.messenger.send_text(
                req.conversation_id,
                customer_facing_text(req),
                messaging_type=policy.messaging_type,
                tag=policy.tag,
            )
        except GraphApiError as error:
            if error.transient:
                return deliver_error(
                    502, "channel_unavailable", f"Messenger did not take it: {error.title}"
                )
            return deliver_error(
                422, "channel_rejected", f"Messenger refused the message: {error.title}"
            )
        return response.json({"status": "sent", "channel_message_id": ids[0]})

    async def _last_customer_message_at(self, app: Sanic, psid: str) -> float | None:
        """From the state file, else from the tracker (conversations older than the file)."""
        at = await self.state.last_customer_message_at(psid)
        if at is not None:
            return at
        return await self.last_customer_message_in_tracker(app, psid)


def receipt_reports(receipt: Receipt) -> list[StatusReport]:
    """The statuses a receipt states exactly: one per message id it lists.

    A watermark alone ("everything sent before this time") is not translated: this connector
    does not keep when it sent each message, so it could not tell which lines it covers.
    """
    at = parse_time(receipt.watermark_ms / 1000)
    return [StatusReport(CHANNEL, receipt.psid, mid, receipt.status, at) for mid in receipt.mids]


async def _bot_is_in_charge(app: Sanic, psid: str) -> bool:
    """False while a person owns the conversation (paused tracker): no typing bubbles then."""
    tracker = await tracker_of(app, psid)
    return tracker is None or not tracker.is_paused()
