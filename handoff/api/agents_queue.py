"""Presence, capacity, skills and team queue modes (docs/agent-queue.md)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.roles import Role

bp = Blueprint("agents_queue", url_prefix="/api/v1")


@bp.get("/me/presence")
@requires(Role.AGENT)
async def my_presence(request: Request) -> HTTPResponse:
    return json(await request.app.ctx.presence.get(request.ctx.agent.id))


@bp.post("/me/presence")
@requires(Role.AGENT)
async def set_my_presence(request: Request) -> HTTPResponse:
    data = body(request, required=("presence",))
    agent = request.ctx.agent
    return json(await request.app.ctx.presence.set_presence(agent.id, data["presence"], agent.id))


@bp.get("/agents/<agent_id:str>/queue")
@requires(Role.SUPERVISOR)
async def agent_queue(request: Request, agent_id: str) -> HTTPResponse:
    presence = request.app.ctx.presence
    view = await presence.get(agent_id)
    return json({**view, "skills": await presence.skills(agent_id)})


@bp.post("/agents/<agent_id:str>/queue")
@requires(Role.SUPERVISOR)
async def configure_agent(request: Request, agent_id: str) -> HTTPResponse:
    presence = request.app.ctx.presence
    view = await presence.configure(agent_id, body(request))
    return json({**view, "skills": await presence.skills(agent_id)})


@bp.post("/agents/<agent_id:str>/presence")
@requires(Role.SUPERVISOR)
async def set_presence(request: Request, agent_id: str) -> HTTPResponse:
    data = body(request, required=("presence",))
    presence = request.app.ctx.presence
    await presence.get(agent_id)  # 404 for an unknown agent
    return json(await presence.set_presence(agent_id, data["presence"], request.ctx.agent.id))


@bp.post("/agents/<agent_id:str>/skills")
@requires(Role.SUPERVISOR)
async def set_skills(request: Request, agent_id: str) -> HTTPResponse:
    data = body(request, required=("team", "skills"))
    skills = await request.app.ctx.presence.set_skills(agent_id, data["team"], data["skills"])
    return json({"skills": skills})


@bp.get("/queue-modes")
@requires(Role.AGENT)
async def queue_modes(request: Request) -> HTTPResponse:
    return json({"teams": await request.app.ctx.assignment.team_modes()})


@bp.post("/teams/<team_id:str>/queue-mode")
@requires(Role.SUPERVISOR)
async def set_queue_mode(request: Request, team_id: str) -> HTTPResponse:
    data = body(request, required=("mode",))
    service = request.app.ctx.assignment
    return json(await service.set_team_mode(team_id, data["mode"], request.ctx.agent.id))
