"""An attachment's file, streamed from the connector to the agent (`handoff/media.py`)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from handoff.api.guard import requires
from handoff.roles import Role

bp = Blueprint("media", url_prefix="/api/v1")
CHUNK_BYTES = 64 * 1024


@bp.get("/conversations/<conversation_id:str>/media/<media_id:str>")
@requires(Role.AGENT)
async def media(request: Request, conversation_id: str, media_id: str) -> HTTPResponse | None:
    service = request.app.ctx.media
    channel = await service.channel_of(conversation_id, media_id)
    async with service.client.open(channel, media_id) as upstream:
        response = await request.respond(
            content_type=upstream.headers.get("Content-Type", "application/octet-stream"),
            headers={"Content-Disposition": "attachment", "Cache-Control": "no-store"},
        )
        async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
            await response.send(chunk)
        await response.eof()
    return None
