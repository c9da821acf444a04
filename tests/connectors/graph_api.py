"""A local stand-in for Meta's Graph API (aiohttp on 127.0.0.1), for tests and the simulator.

It records every request, checks the access token (bearer header or `access_token` query, as the
Graph API accepts both), can fail the next requests with scripted Graph errors, and can enforce
WhatsApp's 24-hour customer service window itself.

Routes are pluggable: a route is a method, an aiohttp path pattern and a handler that gets the
request and its JSON body and returns the success JSON; recording, the token check and scripted
failures happen before the handler for every route; a handler raises `GraphErrorRaised` to answer
with a Graph error. WhatsApp's `/{version}/{phone_number_id}/messages`
is built in (`whatsapp_messages`); the Messenger tests add theirs, e.g.::

    async def send_api(request: web.Request, body: dict) -> dict:
        return {"recipient_id": body["recipient"]["id"], "message_id": graph.new_id("m_")}

    async with GraphApiStandIn(routes=[("POST", "/{version}/me/messages", send_api)]) as graph:
        ...
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RouteHandler = Callable[[web.Request, Any], Awaitable[dict[str, Any]]]
Route = tuple[str, str, RouteHandler]
SERVICE_WINDOW_SECONDS = 24 * 3600


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


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GraphApiStandIn:
    access_token: str = "test-access-token"
    routes: Sequence[Route] = ()
    enforce_service_window: bool = False
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

    def new_id(self, prefix: str = "wamid.") -> str:
        return f"{prefix}standin{next(self._ids)}"

    @property
    def sent(self) -> list[Any]:
        """Bodies of the requests that succeeded or failed, in order."""
        return [r.body for r in self.requests]

    # --- built-in WhatsApp route -------------------------------------------------------------
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

    # --- server ------------------------------------------------------------------------------
    async def __aenter__(self) -> GraphApiStandIn:
        app = web.Application()
        all_routes = [("POST", "/{version}/{phone_number_id}/messages", self.whatsapp_messages)]
        for method, path, handler in [*self.routes, *all_routes]:
            app.router.add_route(method, path, self._wrap(handler))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _wrap(self, handler: RouteHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), body)
            )
            if self._token(request) != self.access_token:
                return INVALID_TOKEN.response()
            if self._failures:
                return self._failures.pop(0).response()
            try:
                return web.json_response(await handler(request, body))
            except GraphErrorRaised as error:
                return error.graph_error.response()

        return handle

    @staticmethod
    def _token(request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else request.query.get("access_token")


class GraphErrorRaised(Exception):
    """Raise from a route handler to answer with a Graph error."""

    def __init__(self, graph_error: GraphError) -> None:
        super().__init__(graph_error.message)
        self.graph_error = graph_error
