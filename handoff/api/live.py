"""`GET /api/v1/ws?token=`: live events for logged-in agents (docs/handoff-service.md).

The first frame is `{"type": "hello", "agent": {...}}`: from then on the agent receives every
event. A bad token closes the socket with code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict

from sanic import Blueprint, Request
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.exceptions import ConnectionClosed

from handoff.api.guard import agent_for
from handoff.errors import Forbidden, Unauthorized
from handoff.live import Event, Subscription
from handoff.roles import Role

bp = Blueprint("live", url_prefix="/api/v1")


@bp.websocket("/ws")
async def events(request: Request, ws: WebsocketImplProtocol) -> None:
    try:
        agent = await agent_for(request, request.args.get("token") or "", Role.AGENT)
    except (Unauthorized, Forbidden) as error:
        await ws.close(code=4401, reason=error.message[:120])
        return
    connection = await request.app.ctx.presence.connected(agent.id)  # for presence
    subscription = request.app.ctx.live.subscribe()
    pump = asyncio.ensure_future(_pump(ws, subscription))
    try:
        await ws.send(json.dumps({"type": "hello", "agent": agent.view()}))
        with contextlib.suppress(ConnectionClosed):
            while await ws.recv() is not None:  # client frames are ignored
                pass
    finally:
        subscription.close()
        pump.cancel()
        # sanic cancels the handler when the client goes: this must still run to the end
        await asyncio.shield(request.app.ctx.presence.disconnect(connection))


class _Encoded:
    """The JSON text of the events lately sent: the same event object goes to every subscriber,
    so with a thousand sockets it is encoded once, not a thousand times."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._texts: OrderedDict[int, tuple[Event, str]] = OrderedDict()

    def __call__(self, event: Event) -> str:
        if (cached := self._texts.get(id(event))) is not None and cached[0] is event:
            return cached[1]
        text = json.dumps(event)
        self._texts[id(event)] = (event, text)  # holding the event keeps its id from reuse
        if len(self._texts) > self._size:
            self._texts.popitem(last=False)
        return text


_encoded = _Encoded()


async def _pump(ws: WebsocketImplProtocol, subscription: Subscription) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for event in subscription:
            await ws.send(_encoded(event))
