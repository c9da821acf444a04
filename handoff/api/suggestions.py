"""Suggested responses: agents get them for a conversation and say what they did with each;
supervisors see mined replies agents keep sending unchanged and add them to the library."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.roles import Role

bp = Blueprint("suggestions", url_prefix="/api/v1")


@bp.get("/conversations/<conversation_id:str>/suggestions")
@requires(Role.AGENT)
async def suggest(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.suggestions
    return json({"suggestions": await service.suggest(request.ctx.agent, conversation_id)})


@bp.post("/conversations/<conversation_id:str>/suggestions/feedback")
@requires(Role.AGENT)
async def feedback(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.suggestions
    return json(await service.feedback(request.ctx.agent, conversation_id, body(request)))


@bp.get("/suggestions/proposals")
@requires(Role.SUPERVISOR)
async def proposals(request: Request) -> HTTPResponse:
    return json({"proposals": await request.app.ctx.suggestions.proposals()})


@bp.post("/suggestions/proposals/<entry_id:str>/approve")
@requires(Role.SUPERVISOR)
async def approve(request: Request, entry_id: str) -> HTTPResponse:
    service = request.app.ctx.suggestions
    return json(await service.promote(request.ctx.agent, entry_id, body(request)), status=201)
