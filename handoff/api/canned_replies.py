"""Canned replies: agents search and insert them; supervisors edit the library."""

from __future__ import annotations

from sanic import Blueprint, Request, empty, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.roles import Role

bp = Blueprint("canned_replies", url_prefix="/api/v1")


@bp.get("/canned-replies")
@requires(Role.AGENT)
async def search(request: Request) -> HTTPResponse:
    service = request.app.ctx.canned_replies
    found = await service.search(
        request.ctx.agent, request.args.get("q"), request.args.get("team") or None
    )
    return json({"replies": found})


@bp.post("/canned-replies")
@requires(Role.SUPERVISOR)
async def create(request: Request) -> HTTPResponse:
    service = request.app.ctx.canned_replies
    return json(await service.create(request.ctx.agent, body(request)), status=201)


@bp.put("/canned-replies/<reply_id:str>")
@requires(Role.SUPERVISOR)
async def update(request: Request, reply_id: str) -> HTTPResponse:
    service = request.app.ctx.canned_replies
    return json(await service.update(request.ctx.agent, reply_id, body(request)))


@bp.delete("/canned-replies/<reply_id:str>")
@requires(Role.SUPERVISOR)
async def delete(request: Request, reply_id: str) -> HTTPResponse:
    await request.app.ctx.canned_replies.delete(reply_id)
    return empty()


@bp.get("/conversations/<conversation_id:str>/canned-replies/<reply_id:str>")
@requires(Role.AGENT)
async def filled(request: Request, conversation_id: str, reply_id: str) -> HTTPResponse:
    service = request.app.ctx.canned_replies
    return json(await service.fill(request.ctx.agent, reply_id, conversation_id))
