"""Connector tests; `serving` runs a real sanic app on 127.0.0.1 (no sanic-testing in this env)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sanic import Sanic


def sanic_app(prefix: str = "connector-test") -> Sanic:
    """A fresh sanic app with a unique name (sanic 21.12 keeps a registry of app names)."""
    # Test mode (what sanic-testing sets): TouchUp rewrites sanic's Http class in place at
    # startup and only keeps the original for the next app's startup in test mode.
    Sanic.test_mode = True
    return Sanic(f"{prefix}-{uuid.uuid4().hex[:8]}")


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port for the duration; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # sanic 21.12 turns port=0 into 8000, so bind ourselves
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    port = server.server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        for connection in list(server.connections):
            connection.close_if_idle()
        for _ in range(50):  # bounded: a keep-alive connection notices the close quickly
            if not server.connections:
                break
            await asyncio.sleep(0.01)
        for connection in list(server.connections):
            connection.abort()
        await server.after_stop()
