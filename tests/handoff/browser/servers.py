"""The real handoff service in a subprocess and a real deliver endpoint, for the console tests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from contracts.values import format_time
from harness.processes import Process, free_port
from harness.rasa_events import write_rows

REPO = Path(__file__).resolve().parents[3]
API_TOKEN = "browser-test-intake-token"
DELIVERY_TOKEN = "browser-test-delivery-token"
START_TIMEOUT_SECONDS = 60.0  # upper bound for the service to answer /health (busy machine)


class DeliveryEndpoint:
    """The connector's deliver endpoint (docs/handoff-service.md, "Delivery").

    It runs on its own event loop in a thread: Selenium calls block the test's thread.
    Texts listed in `refusals` are answered with a 422 and that message, like a channel that
    refuses a message (e.g. WhatsApp's closed 24-hour window).
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}  # the files the channel holds, by media id
        self.media_requests: list[tuple[str, str]] = []  # (path, Authorization)
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

    async def _media(self, request: web.Request) -> web.Response:
        """The connector's media endpoint: a customer's file, fetched with the delivery token."""
        self.media_requests.append((request.path, request.headers.get("Authorization", "")))
        if request.headers.get("Authorization") != f"Bearer {DELIVERY_TOKEN}":
            return web.json_response({"error": "unauthorized", "message": "Bad token."}, status=401)
        if (body := self.media.get(request.match_info["media_id"])) is None:
            return web.json_response({"error": "media_not_found", "message": "Gone."}, status=404)
        return web.Response(body=body, content_type="image/png")

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/webhooks/{channel}/deliver", self._deliver)
        app.router.add_get("/webhooks/{channel}/media/{media_id}", self._media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def texts(self, author_type: str = "agent") -> list[str]:
        """What was sent to the customer by agents (or by `author_type`, e.g. system notices)."""
        return [body["text"] for body in self.by(author_type)]

    def by(self, author_type: str) -> list[dict[str, Any]]:
        return [body for body in self.received if body["author_type"] == author_type]


class HandoffService:
    """`python -m handoff` in a subprocess on a free port, with its own SQLite database, tailing
    a Rasa SQL event broker database that the tests write customer messages into."""

    def __init__(self, workdir: Path, delivery_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log_path = workdir / "service.log"
        self.events_db = workdir / "rasa-events.sqlite3"
        self.passwords: dict[str, str] = {}
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'handoff.sqlite3'}",
            "EVENT_SOURCE": f"sql:sqlite:///{self.events_db}",
            "HANDOFF_API_TOKEN": API_TOKEN,
            "DELIVERY_URL": delivery_url,
            "DELIVERY_TOKEN": DELIVERY_TOKEN,
            "HANDOFF_HOST": "127.0.0.1",
            "HANDOFF_PORT": str(self.port),
            "RASA_URL": "http://127.0.0.1:9",  # no Rasa in these tests
        }
        self.process = Process(
            [sys.executable, "-m", "handoff"],
            self.env,
            f"{self.url}/health",
            self.log_path,
            startup_seconds=START_TIMEOUT_SECONDS,
        )

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "handoff.cli", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"handoff.cli {args} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def seed_demo(self) -> None:
        """Migrate and seed the demo teams and agents, keeping the passwords the CLI prints."""
        self.cli("migrate")
        for line in self.cli("seed-demo").splitlines():
            match line.split():
                case [_role, email, "password", password]:
                    self.passwords[email] = password
        write_rows(self.events_db, [])

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

    def customer_activity(self, conversation_id: str, state: str, at: datetime) -> None:
        """The web chat says the customer is online, typing or left (docs/handoff-service.md)."""
        body = {"channel": "webchat", "conversation_id": conversation_id, "state": state}
        request = urllib.request.Request(
            f"{self.url}/api/v1/customer-activity",
            data=json.dumps({**body, "at": format_time(at)}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

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
