"""The console's integrations of a conversation: the CRM panel, transcript exports and CSAT
surveys (docs/integrations.md)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse, raw

from handoff.api.guard import body, requires, service_token
from handoff.roles import Role
from handoff.services.export import page_policy, parse_format, parse_notes

bp = Blueprint("integrations", url_prefix="/api/v1")


@bp.get("/conversations/<conversation_id:str>/crm")
@requires(Role.AGENT)
async def crm(request: Request, conversation_id: str) -> HTTPResponse:
    return json(await request.app.ctx.crm.for_conversation(conversation_id))


@bp.get("/conversations/<conversation_id:str>/export")
@requires(Role.AGENT)
async def export(request: Request, conversation_id: str) -> HTTPResponse:
    fmt = parse_format(request.args.get("format"))
    with_notes = parse_notes(request.args.get("notes"))
    service = request.app.ctx.exports
    done = await service.transcript(conversation_id, fmt, with_notes, request.ctx.agent)
    headers = {"Content-Disposition": f'attachment; filename="{done.filename}"'}
    if done.nonce is not None:
        headers["Content-Security-Policy"] = page_policy(done.nonce) + "; frame-ancestors 'none'"
    return raw(done.body.encode(), content_type=done.content_type, headers=headers)


@bp.get("/conversations/<conversation_id:str>/csat")
@requires(Role.AGENT)
async def surveys(request: Request, conversation_id: str) -> HTTPResponse:
    return json({"surveys": await request.app.ctx.csat.of_conversation(conversation_id)})


@bp.post("/csat/answers")
@service_token
async def answer(request: Request) -> HTTPResponse:
    data = body(request, required=("conversation_id", "score"))
    service = request.app.ctx.csat
    return json(await service.answer(data["conversation_id"], data["score"], data.get("comment")))
