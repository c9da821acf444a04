"""The real handoff service in a subprocess and a real deliver endpoint, for the console tests."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.rasa_events import write_rows

REPO = Path(__file__).resolve().parents[3]
API_TOKEN = "browser-test-intake-token"
DELIVERY_TOKEN = "browser-test-delivery-token"
START_TIMEOUT_SECONDS = 30.0  # upper bound for the service to answer /health


class DeliveryEndpoint:
    """The connector's deliver endpoint (docs/handoff-service.md, "Delivery").

    It runs on its own event loop in a thread: Selenium calls block the test's thread.
    Texts listed in `refusals` are answered with a 422 and that message, like a channel that
    refuses a message (e.g. WhatsApp's closed 24-hour window).
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refusals: dict[str, str] = {}
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _deliver(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {DELIVERY_TOKEN}":
            return web.json_response({"error": "unauthorized", "message": "Bad token."}, status=401)
        body = await request.json()
        self.received.append(body)
        if (refusal := self.refusals.get(body["text"])) is not None:
            return web.json_response({"error": "refused", "message": refusal}, status=422)
        return web.json_response(
            {"status": "sent", "channel_message_id": f"wamid.{len(self.received)}"}
        )

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/webhooks/{channel}/deliver", self._deliver)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def intake(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a handoff as the bot does (docs/handoff-intake.md); the stored conversation."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/handoffs",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {API_TOKEN}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
            return json.loads(answer.read())

    def customer_says(self, conversation_id: str, text: str) -> None:
        """A customer message as Rasa's SQL event broker publishes it (a `user` event)."""
        event = {
            "sender_id": conversation_id,
            "event": "user",
            "timestamp": datetime.now(timezone.utc).timestamp(),
            "text": text,
            "parse_data": {"intent": {"name": "inform", "confidence": 0.93}, "entities": []},
            "input_channel": "webchat",
            "message_id": uuid.uuid4().hex,
        }
        write_rows(self.events_db, [event])
