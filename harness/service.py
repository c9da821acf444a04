"""The handoff service served in-process on 127.0.0.1, and a small JSON client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from sanic import Sanic

from harness.processes import free_socket

T = TypeVar("T")
EVENTUALLY_SECONDS = 30.0  # upper bound for something that normally happens within ms


async def eventually(
    check: Callable[[], Awaitable[bool]], seconds: float = EVENTUALLY_SECONDS
) -> None:
    """Wait until `check()` is true; fail (TimeoutError) after `seconds`."""

    async def poll() -> None:
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), seconds)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private loop (for sync fixtures), leaving the current loop alone."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port with its listeners run; yields the base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
        sock.close()


@dataclass
class Response:
    status: int
    body: Any


class ApiClient:
    """JSON requests against a running service; `token` is the bearer to send (or None)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: str | None = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(
            method, self.base_url + path, json=json, data=data, headers=sent
        ) as response:
            text = await response.text()
            try:
                body = await response.json(content_type=None) if text else None
            except ValueError:
                body = text
            return Response(response.status, body)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    def ws(self, token: str) -> Any:
        url = self.base_url.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
        return self.http.ws_connect(url)
