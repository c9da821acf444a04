"""The real handoff service in a subprocess and a real deliver endpoint, for the console tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[3]
API_TOKEN = "browser-test-intake-token"
DELIVERY_TOKEN = "browser-test-delivery-token"
START_TIMEOUT_SECONDS = 30.0  # upper bound for the service to answer /health
POLL_SECONDS = 0.1
# The table Rasa's SQLEventBroker creates; the service tails it (EVENT_SOURCE=sql:…).
RASA_EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL, sender_id VARCHAR(255),"
    " data TEXT, PRIMARY KEY (id))"
)


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class HandoffService:
    """`python -m handoff` in a subprocess on a free port, with its own SQLite database, tailing
    a Rasa SQL event broker database that the tests write customer messages into."""

    def __init__(self, workdir: Path, delivery_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
        self.process: subprocess.Popen[bytes] | None = None

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
        self._write_events(RASA_EVENTS_TABLE)

    def _write_events(self, statement: str, *parameters: str) -> None:
        connection = sqlite3.connect(self.events_db)
        try:
            with connection:  # commits
                connection.execute(statement, parameters)
        finally:
            connection.close()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "handoff"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = datetime.now() + timedelta(seconds=START_TIMEOUT_SECONDS)
        while datetime.now() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the service exited:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            threading.Event().wait(POLL_SECONDS)
        pytest.fail(f"the service did not answer /health:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

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
        self._write_events(
            "INSERT INTO events (sender_id, data) VALUES (?, ?)", conversation_id, json.dumps(event)
        )
