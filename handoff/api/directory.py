"""Teams and agents, for the console's transfer pickers."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff import views
from handoff.api.guard import requires
from handoff.repositories import Agents
from handoff.roles import Role

bp = Blueprint("directory", url_prefix="/api/v1")


@bp.get("/teams")
@requires(Role.AGENT)
async def teams(request: Request) -> HTTPResponse:
    async with request.app.ctx.sessions() as session:
        rows = await Agents(session).all_teams()
    return json({"teams": [views.team(row) for row in rows]})


@bp.get("/agents")
@requires(Role.AGENT)
async def agents(request: Request) -> HTTPResponse:
    async with request.app.ctx.sessions() as session:
        repository = Agents(session)
        rows = await repository.active()
        teams = await repository.teams_of(row.id for row in rows)
    return json({"agents": [views.agent(row, teams[row.id]) for row in rows]})
