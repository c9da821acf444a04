"""Customer erasure (supervisors and admins): request one, read the audit records."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.erasure import DONE, Requester

bp = Blueprint("erasures", url_prefix="/api/v1")


@bp.post("/erasures")
@requires(Role.SUPERVISOR)
async def erase(request: Request) -> HTTPResponse:
    data = body(request)
    keys = {name: data.get(name) for name in ("conversation_id", "sender_id")}
    if not all(value is None or isinstance(value, str) for value in keys.values()):
        raise Invalid("conversation_id and sender_id must be strings.")
    agent = request.ctx.agent
    record = await request.app.ctx.erasures.request(
        Requester(agent.email, agent.id),
        conversation_pk=keys["conversation_id"],
        sender_id=keys["sender_id"],
    )
    return json(record, status=200 if record["status"] == DONE else 202)


@bp.get("/erasures")
@requires(Role.SUPERVISOR)
async def history(request: Request) -> HTTPResponse:
    sender_id = request.args.get("sender_id")
    return json({"erasures": await request.app.ctx.erasures.history(sender_id)})


@bp.get("/erasures/<erasure_id:str>")
@requires(Role.SUPERVISOR)
async def record(request: Request, erasure_id: str) -> HTTPResponse:
    return json(await request.app.ctx.erasures.get(erasure_id))
