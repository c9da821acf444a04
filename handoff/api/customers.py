"""The customer's history: their record across channels, and merging two records into one."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.roles import Role

bp = Blueprint("customers", url_prefix="/api/v1")


@bp.get("/conversations/<conversation_id:str>/customer")
@requires(Role.AGENT)
async def customer(request: Request, conversation_id: str) -> HTTPResponse:
    return json(await request.app.ctx.customers.of_conversation(conversation_id))


@bp.post("/conversations/<conversation_id:str>/customer/merge")
@requires(Role.AGENT)
async def merge(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.customers
    data = body(request, required=("identity",))
    return json(await service.merge(request.ctx.agent, conversation_id, data))
