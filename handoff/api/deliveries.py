from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import service_token

bp = Blueprint("deliveries", url_prefix="/api/v1")


@bp.post("/deliveries")
@service_token
async def report_statuses(request: Request) -> HTTPResponse:
    """200 when every status was for a known line, 202 when some were ignored (unknown line)."""
    result = await request.app.ctx.deliveries.report(request.json)
    return json({"updated": result.updated}, status=202 if result.unknown else 200)
