from __future__ import annotations

from sanic import Blueprint, Request, empty, json
from sanic.response import HTTPResponse

from handoff.api.guard import answers, body, requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.views import iso

bp = Blueprint("auth", url_prefix="/api/v1")


@bp.post("/auth/login")
@answers(429)
async def login(request: Request) -> HTTPResponse:
    """429 with Retry-After while the account or this client address is throttled."""
    data = body(request, required=("email", "password"))
    if not isinstance(data["email"], str) or not isinstance(data["password"], str):
        raise Invalid("email and password must be strings.")
    address = request.remote_addr or request.ip  # remote_addr: behind a configured proxy
    result = await request.app.ctx.auth.login(data["email"], data["password"], address)
    return json(
        {"token": result.token, "expires_at": iso(result.expires_at), "agent": result.agent.view()}
    )


@bp.post("/auth/logout")
@requires(Role.AGENT)
async def logout(request: Request) -> HTTPResponse:
    await request.app.ctx.auth.logout(request.ctx.agent)
    return empty()


@bp.get("/me")
@requires(Role.AGENT)
async def me(request: Request) -> HTTPResponse:
    return json(request.ctx.agent.view())
