from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import service_token

bp = Blueprint("customer_activity", url_prefix="/api/v1")


@bp.post("/customer-activity")
@service_token
async def report_activity(request: Request) -> HTTPResponse:
    """200 when the report was applied, 202 when it was accepted and ignored (a conversation not
    known here, or an older report than the one applied)."""
    applied = await request.app.ctx.customer_activity.report(request.json)
    return json({"applied": applied}, status=200 if applied else 202)
