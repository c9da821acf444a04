"""Customers on each channel and an agent on the handoff API, for whole-product tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from connectors.common.signature import sign_meta_payload
from harness.stack import CHANNEL_SECRETS
from tools.simulator import payloads
from tools.simulator.graph_api import GraphApiStandIn

T = TypeVar("T")
REPLY_SECONDS = 60.0  # a bot turn on a busy 2-core machine, action server included


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = time.monotonic() + REPLY_SECONDS
    while time.monotonic() < deadline:
        if (result := await check()) is not None:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not seen within {REPLY_SECONDS} s")


class LoopThread:
    """An event loop in a daemon thread, for servers that outlive one test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)


def sent_text(body: dict[str, Any]) -> str | None:
    """The customer-visible text of a Graph API send request (WhatsApp or Messenger)."""
    if body.get("messaging_product") == "whatsapp":
        if body.get("type") == "text":
            return body["text"]["body"]
        if body.get("type") == "interactive":
            return body["interactive"]["body"]["text"]
        return None
    return (body.get("message") or {}).get("text")


def recipient(body: dict[str, Any]) -> str | None:
    return body.get("to") or (body.get("recipient") or {}).get("id")


@dataclass
class MetaCustomer:
    """A WhatsApp or Messenger customer: signed webhooks in, the Graph stand-in's record out."""

    rasa_url: str
    graph: GraphApiStandIn
    channel: str
    id: str = field(default_factory=lambda: str(uuid.uuid4().int)[:15])
    seen: int = 0

    def _payload(self, text: str, payload: str | None) -> dict[str, Any]:
        if self.channel == "whatsapp":
            who = payloads.WhatsAppCustomer(wa_id=self.id)
            if payload:
                return payloads.whatsapp_button_reply(who, payload, text)
            return payloads.whatsapp_text(who, text)
        who_fb = payloads.MessengerCustomer(psid=self.id)
        if payload:
            return payloads.messenger_quick_reply(who_fb, payload, text)
        return payloads.messenger_text(who_fb, text)

    async def send(self, text: str, payload: str | None = None) -> None:
        await self._post(self._payload(text, payload))

    async def pick(self, row_id: str, title: str, expect: str) -> list[str]:
        """Pick a row of a WhatsApp list message, then wait like `say`."""
        await self._post(
            payloads.whatsapp_list_reply(payloads.WhatsAppCustomer(self.id), row_id, title)
        )
        return await self._new_lines(expect)

    async def tap_template_button(self, payload: str, title: str, expect: str) -> list[str]:
        """Tap a quick-reply button of a WhatsApp template, then wait like `say`."""
        customer = payloads.WhatsAppCustomer(self.id)
        await self._post(payloads.whatsapp_template_button(customer, payload, title))
        return await self._new_lines(expect)

    async def _post(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        secret = CHANNEL_SECRETS[f"{self.channel.upper()}_APP_SECRET"]
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_meta_payload(body, secret),
        }
        url = f"{self.rasa_url}/webhooks/{self.channel}/webhook"
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
            assert r.status == 200, await r.text()

    def received(self) -> list[str]:
        mine = [b for b in self.graph.sent if isinstance(b, dict) and recipient(b) == self.id]
        return [text for body in mine if (text := sent_text(body)) is not None]

    async def say(self, text: str, payload: str | None = None, expect: str = "") -> list[str]:
        """Send, then wait for the first new line containing `expect`; all new lines."""
        await self.send(text, payload)
        return await self._new_lines(expect)

    async def _new_lines(self, expect: str) -> list[str]:
        async def arrived() -> list[str] | None:
            new = self.received()[self.seen :]
            return new if any(expect in line for line in new) else None

        new = await eventually(arrived, f"{self.channel} reply containing {expect!r}")
        self.seen += len(new)
        return new

    async def wait_for(self, expect: str) -> str:
        async def arrived() -> str | None:
            return next((line for line in self.received()[self.seen :] if expect in line), None)

        line = await eventually(arrived, f"{self.channel} line containing {expect!r}")
        self.seen = len(self.received())
        return line


@dataclass
class Agent:
    """An agent working through the handoff service's API."""

    url: str
    token: str = ""

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=headers) as response,
        ):
            payload = await response.json()
            assert response.status < 300, payload
            return payload

    async def log_in(self, email: str, password: str) -> None:
        answer = await self._call(
            "POST", "/api/v1/auth/login", {"email": email, "password": password}
        )
        self.token = answer["token"]

    async def queued(self, conversation_id: str) -> dict[str, Any]:
        async def listed() -> dict[str, Any] | None:
            queue = (await self._call("GET", "/api/v1/queue"))["conversations"]
            return next((c for c in queue if c["conversation_id"] == conversation_id), None)

        return await eventually(listed, f"{conversation_id} in the queue")

    async def conversation(self, pk: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/v1/conversations/{pk}")

    async def customer_line(self, pk: str, text: str) -> dict[str, Any]:
        async def present() -> dict[str, Any] | None:
            lines = (await self.conversation(pk))["messages"]
            return next((m for m in lines if m["text"] == text), None)

        return await eventually(present, f"customer line {text!r} at the agent")

    async def conversation_when(
        self, pk: str, holds: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """The conversation's detail once `holds` is true of it (within REPLY_SECONDS)."""

        async def seen() -> dict[str, Any] | None:
            view = await self.conversation(pk)
            return view if holds(view) else None

        return await eventually(seen, f"{pk}: {what}")

    async def set_presence(self, presence: str) -> None:
        await self._call("POST", "/api/v1/me/presence", {"presence": presence})

    async def get(self, path: str) -> Any:
        return await self._call("GET", path)

    async def act(self, pk: str, action: str, body: Any = None) -> dict[str, Any]:
        return await self._call("POST", f"/api/v1/conversations/{pk}/{action}", body)

    async def erase(self, pk: str) -> dict[str, Any]:
        """Erase the conversation's customer everywhere (supervisors and admins)."""
        return await self._call("POST", "/api/v1/erasures", {"conversation_id": pk})


@dataclass
class WebChatCustomer:
    """A customer in the web chat widget's place: the websocket protocol of connectors/webchat."""

    rasa_url: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    frames: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0
    _http: aiohttp.ClientSession | None = None
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task | None = None

    async def __aenter__(self) -> WebChatCustomer:
        self._http = aiohttp.ClientSession()
        url = self.rasa_url.replace("http", "ws", 1) + f"/webhooks/webchat/ws?session={self.id}"
        self._ws = await self._http.ws_connect(url)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._http and self._ws and self._reader
        self._reader.cancel()
        await self._ws.close()
        await self._http.close()

    async def _read(self) -> None:
        assert self._ws
        async for message in self._ws:
            frame = json.loads(message.data)
            # Other tabs are shown the customer's own lines too; keep only the answers.
            if frame.get("type") == "message" and frame.get("author_type") != "customer":
                self.frames.append(frame)

    async def send(self, text: str) -> None:
        assert self._ws
        await self._ws.send_json({"type": "message", "text": text, "client_id": uuid.uuid4().hex})

    async def tap(self, button: dict[str, str]) -> None:
        """Press one of a frame's buttons (`{"title", "payload"}`), as the widget does."""
        assert self._ws
        frame = {"type": "payload", "payload": button["payload"], "title": button["title"]}
        await self._ws.send_json({**frame, "client_id": uuid.uuid4().hex})

    async def wait_for(self, expect: str) -> dict[str, Any]:
        async def arrived() -> dict[str, Any] | None:
            new = self.frames[self.seen :]
            return next((f for f in new if expect in (f.get("text") or "")), None)

        frame = await eventually(arrived, f"web chat line containing {expect!r}")
        self.seen = self.frames.index(frame) + 1
        return frame
