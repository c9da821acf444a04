"""A local stand-in for Meta's Graph API (aiohttp on 127.0.0.1), for tests and the simulator.

Built-in routes: WhatsApp's `POST /{version}/{phone_number_id}/messages` and Messenger's Send
API `POST /{version}/me/messages`, answering as Meta does; `GET /{version}/{id}` (a WhatsApp
media id's download URL, a Messenger user's profile name) and the media downloads themselves
(`add_media`; with `placeholder_media` every media id is a generated picture). Every request is
kept in `requests` and, with `record_path`, appended as one JSON line to that file, so another
process (the simulator CLI) can read what the bot and the agents sent. The access token is
checked (bearer header or `access_token` query, as the Graph API accepts both); the next
requests can be failed with scripted Graph errors; WhatsApp's 24-hour customer service window
can be enforced; with `reply_delay_seconds` every answer comes that much later (a slow Graph
API).

Routes are pluggable: a route is a method, an aiohttp path pattern and a handler that gets the
request and its JSON body and returns the success JSON. A route with the method and path of a
built-in one replaces it. Recording, the token check and scripted failures happen before the
handler for every route; a handler raises `GraphErrorRaised` to answer with a Graph error::

    async def page_info(request: web.Request, body: Any) -> dict:
        return {"id": "106540352242922", "name": "Lumen Home"}

    async with GraphApiStandIn(routes=[("GET", "/{version}/me", page_info)]) as graph:
        ...  # point the connector's graph_url at f"{graph.url}/v21.0"
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

RouteHandler = Callable[[web.Request, Any], Awaitable[dict[str, Any]]]
Route = tuple[str, str, RouteHandler]
SERVICE_WINDOW_SECONDS = 24 * 3600
WHATSAPP_MESSAGES_PATH = "/{version}/{phone_number_id}/messages"
NODE_PATH = "/{version}/{node_id}"
MEDIA_DOWNLOAD_PATH = "/whatsapp-media/{media_id}"
CDN_PATH = "/cdn/{media_id}"
MESSENGER_SEND_PATH = "/{version}/me/messages"


@dataclass(frozen=True)
class GraphError:
    http_status: int
    code: int
    message: str
    details: str = ""
    retry_after: int | None = None

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": f"(#{self.code}) {self.message}",
                "type": "OAuthException",
                "code": self.code,
                "error_data": {"messaging_product": "whatsapp", "details": self.details},
                "fbtrace_id": "AbCdEfStandIn",
            }
        }
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return web.json_response(body, status=self.http_status, headers=headers)


RATE_LIMITED = GraphError(
    429, 130429, "Rate limit hit", "Cloud API message throughput has been reached.", retry_after=0
)
REENGAGEMENT = GraphError(
    400,
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer last "
    "replied to this number.",
)
UNDELIVERABLE = GraphError(
    400, 131026, "Message undeliverable", "Unable to deliver message to this recipient."
)
INVALID_TOKEN = GraphError(401, 190, "Invalid OAuth access token.")
UNKNOWN_NODE = GraphError(400, 100, "Unsupported get request: the object does not exist.")


class GraphErrorRaised(Exception):
    """Raise from a route handler to answer with a Graph error."""

    def __init__(self, graph_error: GraphError) -> None:
        super().__init__(graph_error.message)
        self.graph_error = graph_error


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GraphApiStandIn:
    """`access_token` is the token requests must carry (None: any token); `other_access_tokens`
    are accepted too (e.g. a Messenger page token next to the WhatsApp token)."""

    access_token: str | None = "test-access-token"
    routes: Sequence[Route] = ()
    enforce_service_window: bool = False
    record_path: Path | None = None
    other_access_tokens: Collection[str] = ()
    reply_delay_seconds: float = 0.0
    # Media files customers "sent" (`add_media`); with `placeholder_media` any other media id is
    # served as a small generated picture (the CLI's `serve`, where any id may be sent).
    placeholder_media: bool = False
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)  # Messenger PSID -> name
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _failures: list[GraphError] = field(default_factory=list)
    _last_inbound: dict[str, float] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    # --- scripting -------------------------------------------------------------------------
    def fail_next(self, error: GraphError, times: int = 1) -> None:
        """The next `times` requests (any route) get `error` instead of success."""
        self._failures.extend([error] * times)

    def clear_failures(self) -> None:
        self._failures.clear()

    def customer_wrote(self, wa_id: str, at: float | None = None) -> None:
        """For `enforce_service_window`: when the customer last wrote to the business."""
        self._last_inbound[wa_id] = time.time() if at is None else at

    def add_media(self, media_id: str, data: bytes, mime_type: str) -> str:
        """A file a customer sent; returns its download URL (the CDN URL Messenger gives)."""
        self.media[media_id] = (data, mime_type)
        return f"{self.url}{CDN_PATH.format(media_id=media_id)}"

    def new_id(self, prefix: str = "wamid.") -> str:
        return f"{prefix}standin{next(self._ids)}"

    @property
    def sent(self) -> list[Any]:
        """Bodies of the requests that succeeded or failed, in order."""
        return [r.body for r in self.requests]

    # --- built-in routes ---------------------------------------------------------------------
    async def whatsapp_messages(self, request: web.Request, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            raise GraphErrorRaised(GraphError(400, 100, "Invalid parameter", "messaging_product"))
        to = str(body.get("to", ""))
        if self.enforce_service_window and body.get("type") != "template":
            last = self._last_inbound.get(to)
            if last is None or time.time() - last >= SERVICE_WINDOW_SECONDS:
                raise GraphErrorRaised(REENGAGEMENT)
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": self.new_id()}],
        }

    async def messenger_send(self, request: web.Request, body: Any) -> dict[str, Any]:
        recipient = body.get("recipient") if isinstance(body, dict) else None
        if not isinstance(recipient, dict) or not recipient.get("id"):
            raise GraphErrorRaised(GraphError(400, 100, "Invalid parameter", "recipient"))
        answer = {"recipient_id": str(recipient["id"])}
        if "message" in body:  # sender actions (typing_on, mark_seen) get no message id
            answer["message_id"] = self.new_id("m_")
        return answer

    async def node(self, request: web.Request, body: Any) -> dict[str, Any]:
        """`GET /{version}/{id}`: a WhatsApp media id's URL, or a Messenger user's profile."""
        node_id = request.match_info["node_id"]
        file = self._media_file(node_id)
        if file is not None:
            return {
                "messaging_product": "whatsapp",
                "id": node_id,
                "url": f"{self.url}{MEDIA_DOWNLOAD_PATH.format(media_id=node_id)}",
                "mime_type": file[1],
                "file_size": len(file[0]),
            }
        if node_id in self.profiles:
            return {"id": node_id, "name": self.profiles[node_id]}
        raise GraphErrorRaised(UNKNOWN_NODE)

    def _media_file(self, media_id: str) -> tuple[bytes, str] | None:
        if media_id in self.media:
            return self.media[media_id]
        if self.placeholder_media:
            return placeholder_picture(media_id), "image/svg+xml"
        return None

    def _download(self, authorized: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The file itself: WhatsApp's media URL takes the access token, a CDN URL none."""

        async def download(request: web.Request) -> web.Response:
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), None)
            )
            if authorized and not self._accepts(self._token(request)):
                return INVALID_TOKEN.response()
            file = self._media_file(request.match_info["media_id"])
            if file is None:
                return web.Response(status=404, text="Not found")
            return web.Response(body=file[0], content_type=file[1])

        return download

    # --- server ------------------------------------------------------------------------------
    async def __aenter__(self) -> GraphApiStandIn:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> GraphApiStandIn:
        """Serve on `host:port` (0: a free port); `url` is then the base URL, without version."""
        app = web.Application()
        custom = {(method, path) for method, path, _ in self.routes}
        built_in = [
            # Messenger first: its path also matches WhatsApp's `{phone_number_id}` pattern.
            ("POST", MESSENGER_SEND_PATH, self.messenger_send),
            ("POST", WHATSAPP_MESSAGES_PATH, self.whatsapp_messages),
            ("GET", NODE_PATH, self.node),
        ]
        routes = [*self.routes, *(r for r in built_in if (r[0], r[1]) not in custom)]
        # The downloads first: their paths also match `GET /{version}/{node_id}`.
        app.router.add_get(MEDIA_DOWNLOAD_PATH, self._download(authorized=True))
        app.router.add_get(CDN_PATH, self._download(authorized=False))
        for method, path, handler in routes:
            app.router.add_route(method, path, self._wrap(handler))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        bound_host, bound_port = sock.getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wrap(self, handler: RouteHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), body)
            )
            await asyncio.sleep(self.reply_delay_seconds)
            answer = await self._answer(request, body, handler)
            if self.record_path is not None:
                _append_record(self.record_path, request, body, answer.status)
            return answer

        return handle

    async def _answer(self, request: web.Request, body: Any, handler: RouteHandler) -> web.Response:
        if not self._accepts(self._token(request)):
            return INVALID_TOKEN.response()
        if self._failures:
            return self._failures.pop(0).response()
        try:
            return web.json_response(await handler(request, body))
        except GraphErrorRaised as error:
            return error.graph_error.response()

    def _accepts(self, token: str | None) -> bool:
        if self.access_token is None and not self.other_access_tokens:
            return bool(token)
        return token is not None and token in {self.access_token, *self.other_access_tokens}

    @staticmethod
    def _token(request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else request.query.get("access_token")


def placeholder_picture(label: str) -> bytes:
    """A small SVG picture naming the media id, standing in for a customer's photo."""
    safe = "".join(c for c in label if c.isalnum() or c in "._-")[:40]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="120">'
        '<rect width="100%" height="100%" fill="#dde6f0"/>'
        f'<text x="16" y="66" font-family="sans-serif" font-size="16">media {safe}</text></svg>'
    ).encode()


def _append_record(path: Path, request: web.Request, body: Any, status: int) -> None:
    """One JSON line per request (no headers: they carry the access token).

    A synchronous append of one short line keeps the lines in arrival order; readers only take
    complete lines, so they never see half a record.
    """
    line = {
        "at": time.time(),
        "method": request.method,
        "path": request.path,
        "status": status,
        "body": body,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(line, ensure_ascii=False) + "\n")
