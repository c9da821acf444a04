"""Local aiohttp servers speaking the connector's deliver contract and Rasa's HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.web import serving_app


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    """Answers each request with the next scripted (status, json) pair, then the last one."""

    answers: list[tuple[int, Any]]
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        status, payload = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return web.json_response(payload, status=status)


@asynccontextmanager
async def fake_server(answers: list[tuple[int, Any]]) -> AsyncIterator[FakeServer]:
    server = FakeServer(answers)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    async with serving_app(app) as server.url:
        yield server
