"""A local stand-in for the handoff service's intake endpoint (docs/handoff-intake.md).

Used by the outbox tests and the end-to-end bot tests until they run against the real service.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from actions.clients.handoff_intake import INTAKE_PATH, HandoffSettings

TOKEN = "test-token"


class IntakeService:
    """The contract's server side: dedupes by Idempotency-Key, 201 first time, 200 on replay."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.attempts: list[str] = []
        self.lose_acks = 0  # answer 500 after storing this many times (a lost acknowledgement)
        self.failing: set[str] = set()  # conversation ids answered 500 (a request it chokes on)
        self.in_flight = 0
        self.max_in_flight = 0
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        key = request.headers["Idempotency-Key"]
        self.attempts.append(key)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # let concurrent sends, if any, overlap
            body = await request.json()
            if body.get("conversation_id") == "malformed":
                return web.json_response({"error": "missing transcript"}, status=400)
            if body.get("conversation_id") in self.failing:
                return web.json_response({"error": "server_error"}, status=500)
            if key in self.stored:
                return web.json_response({"id": key}, status=200)
            self.stored[key] = body
            if self.lose_acks:
                self.lose_acks -= 1
                return web.json_response({"error": "oops"}, status=500)
            return web.json_response({"id": key}, status=201)
        finally:
            self.in_flight -= 1

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post(INTAKE_PATH, self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def settings(self, outbox_path: Path) -> HandoffSettings:
        return HandoffSettings(
            url=f"http://127.0.0.1:{self.port}", api_token=TOKEN, outbox_path=outbox_path
        )
