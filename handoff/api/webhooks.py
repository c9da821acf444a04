"""Outbound webhooks, for admins: endpoints, secrets, the delivery log, redelivery
(docs/webhooks.md)."""

from __future__ import annotations

from sanic import Blueprint, Request, empty, json
from sanic.response import HTTPResponse

from handoff.api.dead_letters import MAX_PAGE, _whole
from handoff.api.guard import body, requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.webhooks import STATUSES, EndpointChange

bp = Blueprint("webhooks", url_prefix="/api/v1")


def _change(request: Request) -> EndpointChange:
    data = body(request)
    return EndpointChange(**{name: data.get(name) for name in EndpointChange.__dataclass_fields__})


@bp.get("/webhooks")
@requires(Role.ADMIN)
async def endpoints(request: Request) -> HTTPResponse:
    return json(await request.app.ctx.webhooks.list())


@bp.post("/webhooks")
@requires(Role.ADMIN)
async def create(request: Request) -> HTTPResponse:
    service = request.app.ctx.webhooks
    return json(await service.create(_change(request), request.ctx.agent.id), status=201)


@bp.get("/webhooks/<endpoint_id:str>")
@requires(Role.ADMIN)
async def endpoint(request: Request, endpoint_id: str) -> HTTPResponse:
    return json(await request.app.ctx.webhooks.get(endpoint_id))


@bp.patch("/webhooks/<endpoint_id:str>")
@requires(Role.ADMIN)
async def change(request: Request, endpoint_id: str) -> HTTPResponse:
    return json(await request.app.ctx.webhooks.update(endpoint_id, _change(request)))


@bp.delete("/webhooks/<endpoint_id:str>")
@requires(Role.ADMIN)
async def remove(request: Request, endpoint_id: str) -> HTTPResponse:
    await request.app.ctx.webhooks.delete(endpoint_id)
    return empty()


@bp.post("/webhooks/<endpoint_id:str>/rotate-secret")
@requires(Role.ADMIN)
async def rotate_secret(request: Request, endpoint_id: str) -> HTTPResponse:
    return json(await request.app.ctx.webhooks.rotate_secret(endpoint_id))


@bp.get("/webhooks/<endpoint_id:str>/deliveries")
@requires(Role.ADMIN)
async def deliveries(request: Request, endpoint_id: str) -> HTTPResponse:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}.", "invalid_field")
    limit = _whole(request, "limit", 50, 1, MAX_PAGE)
    offset = _whole(request, "offset", 0, 0, 2**31 - 1)
    service = request.app.ctx.webhooks
    return json(await service.deliveries(endpoint_id, status, limit, offset))


@bp.post("/webhook-deliveries/<delivery_id:int>/redeliver")
@requires(Role.ADMIN)
async def redeliver(request: Request, delivery_id: int) -> HTTPResponse:
    return json(await request.app.ctx.webhooks.redeliver(delivery_id))
