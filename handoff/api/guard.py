"""Request helpers shared by the routes: bearer tokens, roles, JSON bodies.

The guards also note on the handler what they can answer (`answers`, see `answers()`) and the
role they need (`required_role`): the OpenAPI description is completed from these.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from sanic import Request
from sanic.response import HTTPResponse

from handoff.errors import BadRequest, Forbidden, Unauthorized
from handoff.roles import Role
from handoff.services.auth import Principal

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse | None]])


def bearer(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'.")
    return token.strip()


async def agent_for(request: Request, token: str, role: Role) -> Principal:
    principal = await request.app.ctx.auth.authenticate(token)
    if not principal.role.at_least(role):
        raise Forbidden(f"This needs the {role.value} role.", "role_required")
    request.ctx.agent = principal
    return principal


def answers(*statuses: int) -> Callable[[Handler], Handler]:
    """Note that the handler can answer these error statuses (for the OpenAPI description)."""

    def note(handler: Handler) -> Handler:
        vars(handler)["answers"] = {*vars(handler).get("answers", ()), *statuses}
        return handler

    return note


def requires(role: Role) -> Callable[[Handler], Handler]:
    """Only agents with at least `role` get through; the principal is `request.ctx.agent`."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse | None:
            await agent_for(request, bearer(request), role)
            return await handler(request, *args, **kwargs)

        vars(guarded)["required_role"] = role
        refused = (401, 403) if role is not Role.AGENT else (401,)  # every agent is an agent
        return answers(*refused)(guarded)  # type: ignore[return-value]

    return decorate


def service_token(handler: Handler) -> Handler:
    """Only callers holding HANDOFF_API_TOKEN (the bot's action server) get through."""

    @wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse | None:
        expected = request.app.ctx.settings.api_token
        if not hmac.compare_digest(bearer(request).encode(), expected.encode()):
            raise Unauthorized("Wrong service token.")
        return await handler(request, *args, **kwargs)

    return answers(401)(guarded)  # type: ignore[return-value]


def body(request: Request, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object body: 400 when it is malformed, not an object, or lacks a field."""
    data = request.json  # sanic raises 400 on malformed JSON
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", "malformed_body")
    for name in required:
        if data.get(name) is None:
            raise BadRequest(f"Field {name!r} is required.", "missing_field")
    return data
