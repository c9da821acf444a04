from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import service_token

bp = Blueprint("intake", url_prefix="/api/v1")


@bp.post("/handoffs")
@service_token
async def create_handoff(request: Request) -> HTTPResponse:
    result = await request.app.ctx.intake.receive(
        request.headers.get("idempotency-key"), request.json
    )
    return json(result.conversation, status=201 if result.created else 200)
