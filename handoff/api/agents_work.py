"""Shift handover, approval of trainees' replies and the supervisor's live view
(docs/agent-queue.md)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.errors import Invalid
from handoff.roles import Role

bp = Blueprint("agents_work", url_prefix="/api/v1")
REPLY_STATUSES = ("pending", "returned", "approved")


@bp.post("/me/handover")
@requires(Role.AGENT)
async def hand_over(request: Request) -> HTTPResponse:
    data = body(request, required=("note",))
    service = request.app.ctx.handover
    answer = await service.hand_over(
        request.ctx.agent, data.get("to_agent_id"), data["note"], data.get("tell_customer", False)
    )
    return json(answer)


@bp.get("/conversations/<conversation_id:str>/handover-notes")
@requires(Role.AGENT)
async def handover_notes(request: Request, conversation_id: str) -> HTTPResponse:
    return json({"notes": await request.app.ctx.handover.notes(conversation_id)})


@bp.get("/conversations/<conversation_id:str>/pending-replies")
@requires(Role.AGENT)
async def pending_replies(request: Request, conversation_id: str) -> HTTPResponse:
    replies = await request.app.ctx.approvals.of_conversation(conversation_id)
    return json({"replies": replies})


@bp.get("/approvals")
@requires(Role.SUPERVISOR)
async def approvals(request: Request) -> HTTPResponse:
    status = request.args.get("status", "pending")
    if status not in REPLY_STATUSES:
        raise Invalid(f"status must be one of {', '.join(REPLY_STATUSES)}.")
    return json({"replies": await request.app.ctx.approvals.waiting(status)})


@bp.post("/approvals/<reply_id:str>/approve")
@requires(Role.SUPERVISOR)
async def approve(request: Request, reply_id: str) -> HTTPResponse:
    data = body(request) if request.body else {}
    service = request.app.ctx.approvals
    return json(await service.approve(reply_id, request.ctx.agent, data.get("text")))


@bp.post("/approvals/<reply_id:str>/return")
@requires(Role.SUPERVISOR)
async def return_reply(request: Request, reply_id: str) -> HTTPResponse:
    data = body(request, required=("comment",))
    service = request.app.ctx.approvals
    return json(await service.return_to_author(reply_id, request.ctx.agent, data["comment"]))


@bp.get("/supervisor/live")
@requires(Role.SUPERVISOR)
async def supervisor_live(request: Request) -> HTTPResponse:
    return json(await request.app.ctx.supervision.live())
