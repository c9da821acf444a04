"""Request body size limits per endpoint: small for the login and the agent API's JSON, larger
for intake (transcripts) and delivery status batches. A bigger body gets 413 before it is read
to the end (Content-Length or chunked alike)."""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic_routing import Route

from handoff.settings import Settings

LARGE = frozenset({"handoff.intake.create_handoff", "handoff.deliveries.report_statuses"})
LOGIN = "handoff.auth.login"


def body_limit(route_name: str, settings: Settings) -> int:
    if route_name in LARGE:
        return settings.request_max_size
    if route_name == LOGIN:
        return settings.login_body_max_bytes
    return settings.json_body_max_bytes


async def limit_body(request: Request, route: Route, **_context: Any) -> None:
    """`http.routing.after` signal: runs once the route is known, before Sanic reads the body
    (which it checks against the stream's `request_max_size` as it reads)."""
    limit = body_limit(route.name, request.app.ctx.settings)
    request.ctx.body_limit = limit
    if request.stream is not None:
        request.stream.request_max_size = min(request.stream.request_max_size, limit)
