"""Dead letters of the event ingestion, for admins (docs/handoff-service.md)."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.dead_letters import STATUSES

bp = Blueprint("dead_letters", url_prefix="/api/v1")
MAX_PAGE = 200


def _whole(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}.", "invalid_field")
    return int(raw)


@bp.get("/dead-letters")
@requires(Role.ADMIN)
async def dead_letters(request: Request) -> HTTPResponse:
    status = request.args.get("status", "open")
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.", "invalid_field")
    limit = _whole(request, "limit", 50, 1, MAX_PAGE)
    offset = _whole(request, "offset", 0, 0, 2**31 - 1)
    return json(await request.app.ctx.dead_letters.list(status, limit, offset))


@bp.post("/dead-letters/retry")
@requires(Role.ADMIN)
async def retry_all(request: Request) -> HTTPResponse:
    return json(await request.app.ctx.dead_letters.retry_all())


@bp.post("/dead-letters/<letter_id:int>/retry")
@requires(Role.ADMIN)
async def retry(request: Request, letter_id: int) -> HTTPResponse:
    return json(await request.app.ctx.dead_letters.retry(letter_id))


@bp.post("/dead-letters/<letter_id:int>/discard")
@requires(Role.ADMIN)
async def discard(request: Request, letter_id: int) -> HTTPResponse:
    return json(await request.app.ctx.dead_letters.discard(letter_id))
