"""Crisis tools: supervisors' bulk actions on the conversations a filter selects, with undo and
the audit log (handoff/services/bulk_actions.py)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.roles import Role

bp = Blueprint("bulk_actions", url_prefix="/api/v1")


@bp.post("/bulk-actions/preview")
@requires(Role.SUPERVISOR)
async def preview(request: Request) -> HTTPResponse:
    data = body(request, required=("filter",))
    return json(await request.app.ctx.bulk_actions.preview(data["filter"]))


@bp.post("/bulk-actions")
@requires(Role.SUPERVISOR)
async def run(request: Request) -> HTTPResponse:
    data = body(request, required=("filter", "action"))
    return json(await request.app.ctx.bulk_actions.run(request.ctx.agent, data), status=201)


@bp.get("/bulk-actions")
@requires(Role.SUPERVISOR)
async def audit_log(request: Request) -> HTTPResponse:
    return json(await request.app.ctx.bulk_actions.log())


@bp.post("/bulk-actions/<bulk_id:str>/undo")
@requires(Role.SUPERVISOR)
async def undo(request: Request, bulk_id: str) -> HTTPResponse:
    return json(await request.app.ctx.bulk_actions.undo(bulk_id, request.ctx.agent))
