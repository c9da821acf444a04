"""Teams and agents, for the console's transfer pickers."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import requires
from handoff.roles import Role

bp = Blueprint("directory", url_prefix="/api/v1")


@bp.get("/teams")
@requires(Role.AGENT)
async def teams(request: Request) -> HTTPResponse:
    return json({"teams": await request.app.ctx.directory.teams()})


@bp.get("/agents")
@requires(Role.AGENT)
async def agents(request: Request) -> HTTPResponse:
    return json({"agents": await request.app.ctx.directory.agents()})
