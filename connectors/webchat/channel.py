"""The web chat input channel: the widget's files, its websocket and the deliver endpoint.

Mounted by Rasa at ``/webhooks/webchat/``:

- ``GET /`` a demo page with the widget, ``GET /widget.js`` and ``GET /widget.css``;
- ``WS /ws?session=<uuid>&lang=<tag>``: the conversation; the session id is the Rasa sender id
  and lives in the browser's localStorage, so a customer who comes back hours later gets the
  history (from the tracker store) and continues the same conversation;
- ``POST /deliver``: agent and system lines from the handoff service (docs/handoff-service.md).

With ``handoff_url`` the handoff service is told when the customer's first tab connects, while
they type and when their last tab closes (connectors/common/activity_report.py), so the agent
sees whether they are still there.

Connections are held in the process that accepted them. With several Rasa processes (servers or
Sanic workers) set ``fanout_url`` (Redis): every frame then also reaches the tabs held by the
other processes (connectors/webchat/relay.py). Without it a delivered line reaches only the tabs
of the process that got it; the others see it in the history on reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.activity_report import ActivityReporter
from connectors.common.background import BackgroundTasks
from connectors.common.deliver import DeliverRequest, deliver_error, serve_delivery
from connectors.common.deliveries import DeliveryLedger
from connectors.common.inbox import DEFAULT_LEASE_SECONDS, Inbox, Pending
from connectors.common.pii import load_rules, masked_messages, rules_path
from connectors.common.startup import freeze_loaded_objects
from connectors.common.status_report import HandoffEndpoint
from connectors.common.turns import OnNewMessage, Replayer, tracker_events, unless_stored
from connectors.webchat.frames import (
    CustomerMessage,
    CustomerTyping,
    FrameError,
    error_frame,
    history_frame,
    language,
    message_frame,
    parse_client_frame,
    session_id,
    typing_frame,
)
from connectors.webchat.hub import ConnectionHub
from connectors.webchat.output import WebChatOutput
from connectors.webchat.relay import FrameRelay

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
DEFAULT_STATE_PATH = Path("var/connectors/webchat.sqlite")
DEFAULT_BOT_NAME = "Lumen assistant"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/widget.js": ("widget.js", "text/javascript; charset=utf-8"),
    "/widget.css": ("widget.css", "text/css; charset=utf-8"),
}
# Websocket close codes (4000-4999 are for applications); the widget does not retry these.
CLOSE_BAD_SESSION = 4400
CLOSE_FORBIDDEN_ORIGIN = 4403


class WebChatInput(InputChannel):
    """Rasa input channel of the embeddable web chat widget."""

    def __init__(
        self,
        deliver_token: str,
        state_path: Path = DEFAULT_STATE_PATH,
        allowed_origins: frozenset[str] | None = None,
        bot_marker: str | None = None,
        bot_name: str = DEFAULT_BOT_NAME,
        fanout_url: str | None = None,
        handoff: HandoffEndpoint | None = None,
        inbox_lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.deliver_token = deliver_token
        self.allowed_origins = allowed_origins
        self.tasks = BackgroundTasks()
        activity = ActivityReporter(handoff, self.tasks, CHANNEL) if handoff else None
        self.hub = ConnectionHub(FrameRelay(fanout_url) if fanout_url else None, activity)
        self.inbox = Inbox(state_path, CHANNEL, inbox_lease_seconds)
        self._pii = load_rules(rules_path())  # the inbox keeps only what Rasa may keep
        self.ledger = DeliveryLedger(state_path, CHANNEL)
        self.output = WebChatOutput(self.hub, bot_name, bot_marker)
        self.replayer = Replayer(self.inbox, "Web chat")
        # One bot turn at a time per conversation, in the order the customer sent them.
        self._turn_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        """Keys: ``deliver_token`` (required), ``state_path`` (SQLite file of accepted messages
        and deliveries), ``allowed_origins`` (list or comma-separated origins allowed to open the
        websocket; default any), ``bot_marker`` (text prefix for bot lines; default off, the
        widget shows a badge), ``bot_name``, ``fanout_url`` (a ``redis://`` URL shared by every
        Rasa process of the deployment; default none: one process), ``handoff_url`` and
        ``handoff_token`` (the handoff service, told whether the customer is online, typing or
        gone; default none: not told), ``inbox_lease_seconds`` (how long an accepted message's
        turn may run before another process runs it again; default 120, `Inbox`)."""
        if not credentials:
            raise RasaException(
                f"To use the {cls.name()} input channel, give it its keys in credentials.yml."
            )
        token = credentials.get("deliver_token")
        if not isinstance(token, str) or not token.strip():
            raise RasaException(
                "webchat: the credentials key 'deliver_token' is missing or empty "
                "(the bearer token the handoff service sends to /webhooks/webchat/deliver)."
            )
        return cls(
            deliver_token=token,
            state_path=Path(credentials.get("state_path") or DEFAULT_STATE_PATH),
            allowed_origins=_origins(credentials.get("allowed_origins")),
            bot_marker=credentials.get("bot_marker") or None,
            bot_name=credentials.get("bot_name") or DEFAULT_BOT_NAME,
            fanout_url=_fanout_url(credentials.get("fanout_url")),
            handoff=HandoffEndpoint.from_credentials(credentials),
            inbox_lease_seconds=float(
                credentials.get("inbox_lease_seconds") or DEFAULT_LEASE_SECONDS
            ),
        )

    def get_output_channel(self) -> WebChatOutput:
        """Used by Rasa's HTTP API (``output_channel=latest``), e.g. when a conversation returns
        from an agent to the bot."""
        return self.output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = masked_messages(on_new_message)
        bp = Blueprint("webchat_webhook", __name__)

        for uri, (filename, mime_type) in STATIC_FILES.items():
            bp.add_route(_static_handler(filename, mime_type), uri, methods=["GET"])

        bp.listener("after_server_start")(freeze_loaded_objects)

        @bp.listener("after_server_start")
        async def start_hub(app: Any, _loop: Any) -> None:
            await self.hub.start()
            replayed = unless_stored(app, on_new_message)
            self.replayer.start(lambda pending: self._replay(pending, replayed))

        @bp.listener("before_server_stop")
        async def close_hub(_app: Any, _loop: Any) -> None:
            self.replayer.stop()
            await self.hub.close()

        @bp.websocket("/ws")
        async def chat(request: Request, ws: Any) -> None:
            await self._serve(request, ws, on_new_message)

        @bp.post("/deliver")
        async def deliver(request: Request) -> HTTPResponse:
            return await self._deliver(request)

        return bp

    async def _serve(self, request: Request, ws: Any, on_new_message: OnNewMessage) -> None:
        conversation_id = session_id(request.args.get("session"))
        if conversation_id is None:
            await ws.close(CLOSE_BAD_SESSION, "session must be a UUID")
            return
        if not self._origin_allowed(request.headers.get("origin")):
            await ws.close(CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
            return
        lang = language(request.args.get("lang"))
        await self.hub.add(conversation_id, ws)
        try:
            events = await tracker_events(request.app, conversation_id)
            history = history_frame(
                events, bot_name=self.output.bot_name, bot_marker=self.output.bot_marker
            )
            await ws.send(json.dumps(history))
            if self.hub.is_busy(conversation_id):
                await ws.send(json.dumps(typing_frame(True)))
            while (raw := await ws.recv()) is not None:
                try:
                    frame = parse_client_frame(raw)
                except FrameError as error:
                    await ws.send(json.dumps(error_frame(error)))
                    continue
                if isinstance(frame, CustomerTyping):
                    self.hub.customer_typing(conversation_id, frame.on)
                elif isinstance(frame, CustomerMessage):
                    # Shielded: Sanic cancels this handler when the tab closes, and a message
                    # accepted but never handed to the bot would wait for the inbox's replay
                    # (the widget's re-send counts as a duplicate).
                    await asyncio.shield(
                        self._accept(conversation_id, lang, frame, ws, on_new_message)
                    )
        finally:
            # Shielded too: Sanic cancels the handler again while it cleans up, and forgetting
            # the tab (asking the other processes, unsubscribing, "left") must run to the end.
            await asyncio.shield(self.hub.remove(conversation_id, ws))

    async def _accept(
        self,
        conversation_id: str,
        lang: str | None,
        message: CustomerMessage,
        ws: Any,
        on_new_message: OnNewMessage,
    ) -> None:
        """Show the line in every tab and start the bot's turn, once per client_id: a widget that
        re-sends after a reconnect only gets the line back as an acknowledgement. The echo (the
        widget's acknowledgement) goes out only once the message is in the inbox."""
        echo = message_frame(
            line_id=message.client_id,
            author_type="customer",
            author_name=None,
            text=message.display_text,
            at=time.time(),
        )
        body = {
            "text": self._pii.mask(message.text),
            "display_text": self._pii.mask(message.display_text),
            "lang": lang,
        }
        if not await self.inbox.accept(conversation_id, message.client_id, body):
            await ws.send(json.dumps(echo))
            return
        await self.hub.send(conversation_id, echo)
        self._start_turn(conversation_id, lang, message, on_new_message)

    def _start_turn(
        self,
        conversation_id: str,
        lang: str | None,
        message: CustomerMessage,
        on_new_message: OnNewMessage,
    ) -> None:
        self.hub.turn_started(conversation_id)
        self.tasks.spawn(self._turn(conversation_id, lang, message, on_new_message))

    async def _replay(self, pending: Pending, on_new_message: OnNewMessage) -> None:
        body = pending.body
        message = CustomerMessage(pending.message_id, body["text"], body["display_text"])
        self._start_turn(pending.conversation_id, body.get("lang"), message, on_new_message)

    async def _turn(
        self,
        conversation_id: str,
        lang: str | None,
        message: CustomerMessage,
        on_new_message: OnNewMessage,
    ) -> None:
        """Runs apart from the websocket: a tab closed mid-turn does not cancel the bot's turn."""
        metadata: dict[str, Any] = {"channel": CHANNEL, "message_id": message.client_id}
        if lang:
            metadata["language"] = lang
        if message.display_text != message.text:
            metadata["display_text"] = message.display_text
        lock = self._turn_locks.setdefault(conversation_id, asyncio.Lock())
        try:
            await self.hub.send(conversation_id, typing_frame(True))
            async with lock:
                await on_new_message(
                    UserMessage(
                        text=message.text,
                        output_channel=self.output,
                        sender_id=conversation_id,
                        input_channel=CHANNEL,
                        message_id=message.client_id,
                        metadata=metadata,
                    )
                )
            await self.inbox.finish(conversation_id, message.client_id)
        except Exception:
            logger.exception("Web chat turn failed for %s", conversation_id)
            failure = FrameError("bot_unavailable", "Sorry, something went wrong. Please retry.")
            await self.hub.send(conversation_id, error_frame(failure))
        finally:
            self.hub.turn_finished(conversation_id)
            if not self.hub.is_busy(conversation_id):
                await self.hub.send(conversation_id, typing_frame(False))

    async def _deliver(self, request: Request) -> HTTPResponse:
        return await serve_delivery(
            request,
            token=self.deliver_token,
            channel=CHANNEL,
            ledger=self.ledger,
            send=partial(self._send, request),
        )

    async def _send(self, request: Request, req: DeliverRequest) -> HTTPResponse:
        """Shown live in the customer's open tabs; `deliver_once` then appends it to the
        tracker, from which a tab opened later loads it."""
        if getattr(request.app.ctx, "agent", None) is None:
            return deliver_error(503, "rasa_unavailable", "The bot is not ready yet; retry.")
        events = await tracker_events(request.app, req.conversation_id)
        if not events:
            return deliver_error(
                404, "unknown_conversation", "There is no web chat conversation with this id."
            )
        answer = {"status": "sent", "channel_message_id": req.message_id}
        if await self.hub.send(req.conversation_id, _agent_frame(req)) == 0:
            answer["note"] = (
                "queued: the customer has no chat window open and will see the message when "
                "they come back."
            )
        return response.json(answer)

    def _origin_allowed(self, origin: str | None) -> bool:
        return self.allowed_origins is None or (origin or "") in self.allowed_origins


def _fanout_url(raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or not raw.startswith(("redis://", "rediss://", "unix://")):
        raise RasaException(
            f"webchat: the credentials key 'fanout_url' {raw!r} is not a redis:// URL."
        )
    return raw.strip()


def _static_handler(
    filename: str, mime_type: str
) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
    async def serve(request: Request) -> HTTPResponse:
        return await response.file(
            STATIC_DIR / filename, mime_type=mime_type, headers={"Cache-Control": "no-cache"}
        )

    serve.__name__ = f"webchat_static_{filename.replace('.', '_')}"
    return serve


def _origins(raw: Any) -> frozenset[str] | None:
    if not raw:
        return None
    items = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(str(item).strip().rstrip("/") for item in items if str(item).strip())


def _agent_frame(req: DeliverRequest) -> dict[str, Any]:
    return message_frame(
        line_id=req.message_id,
        author_type=req.author_type,
        author_name=req.author_name,
        text=req.text,
        at=time.time(),
    )
