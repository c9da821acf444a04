"""A local webhook receiver that verifies signatures as docs/webhooks.md tells integrators to,
down (not listening) until it comes up, once; it can be scripted to fail, or hang."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.service import free_socket

TOLERANCE_SECONDS = 300


def verified(secret: str, timestamp: str, signatures: str, body: bytes) -> bool:
    """The documented check: a fresh timestamp, and `v1=` HMAC-SHA256(secret, ts + "." + body)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    expected = "v1=" + digest.hexdigest()
    return any(hmac.compare_digest(expected, given.strip()) for given in signatures.split(","))


@dataclass
class Receiver:
    secret: str = ""
    failures: list[int] = field(default_factory=list)  # statuses to answer first, then 200
    refuse: set[str] = field(default_factory=set)  # conversations whose events get a 500
    hang: asyncio.Event | None = None  # while set to an unset event, requests wait on it
    events: list[dict[str, Any]] = field(default_factory=list)  # verified, accepted bodies
    headers: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0  # bad or missing signatures
    waiting: int = 0  # requests hanging right now
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each accepted event
    port: int = 0
    _runner: web.AppRunner | None = None
    _sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        # Bound but not listening until `up()`: connections are refused, and no other server
        # of the test run can take the port meanwhile (a released port can be handed out again).
        self._sock = free_socket()
        self.port = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/lumen"

    @property
    def ids(self) -> list[str]:
        return [event["id"] for event in self.events]

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hang is not None and not self.hang.is_set():
            self.waiting += 1
            try:
                await self.hang.wait()
            finally:
                self.waiting -= 1
        timestamp = request.headers.get("Lumen-Webhook-Timestamp", "")
        signatures = request.headers.get("Lumen-Webhook-Signature", "")
        if not verified(self.secret, timestamp, signatures, body):
            self.refused += 1
            return web.json_response({"error": "bad_signature"}, status=401)
        if self.failures:
            return web.json_response({"error": "try later"}, status=self.failures.pop(0))
        event = json.loads(body)
        if event["data"]["conversation"]["id"] in self.refuse:
            return web.json_response({"error": "cannot take this one"}, status=500)
        assert request.headers["Lumen-Webhook-Id"] == event["id"]
        self.events.append(event)
        self.headers.append(dict(request.headers))
        self.arrived.set()
        return web.json_response({"ok": True})

    async def received(self, count: int) -> None:
        """Wait until `count` events were accepted."""
        while len(self.events) < count:
            self.arrived.clear()
            await self.arrived.wait()

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/lumen", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()  # it closes the socket at `down()`

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
