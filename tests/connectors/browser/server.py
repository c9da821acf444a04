"""The web chat test bench (`webchat_bench.py`) as a child process of the browser tests.

The browser tests run in `.venv-handoff` (it has selenium); the bench needs Rasa, so it runs
with `.venv-bot`'s Python. Stopping and starting it again on the same port and state directory
is a server restart as the widget sees it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from harness.processes import Process, free_port

REPO = Path(__file__).resolve().parents[3]
BOT_PYTHON = REPO / ".venv-bot" / "bin" / "python"
DELIVER_TOKEN = "webchat-deliver-secret"  # the bench's token (webchat_bench.DELIVER_TOKEN)
START_TIMEOUT_SECONDS = 90.0  # importing Rasa on a busy machine


class ChatServer:
    """`handoff_url`, `handoff_token`: where the channel reports the customer's presence."""

    def __init__(self, state_dir: Path, handoff_url: str = "", handoff_token: str = "") -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/webchat/"
        self.log_path = state_dir / "server.log"
        self.process = Process(
            [
                str(BOT_PYTHON),
                "-m",
                "tests.connectors.browser.webchat_bench",
                "--port",
                str(self.port),
                "--state",
                str(state_dir),
                f"--handoff-url={handoff_url}",
                f"--handoff-token={handoff_token}",
            ],
            None,
            self.url + "widget.css",
            self.log_path,
            startup_seconds=START_TIMEOUT_SECONDS,
        )

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def deliver(
        self,
        conversation_id: str,
        text: str,
        author_type: str = "agent",
        author_name: str | None = "Dana",
    ) -> dict[str, Any]:
        """What the handoff service does when an agent replies (docs/handoff-service.md)."""
        body = {
            "conversation_id": conversation_id,
            "channel": "webchat",
            "message_id": uuid.uuid4().hex,
            "author_type": author_type,
            "author_name": author_name,
            "text": text,
        }
        request = urllib.request.Request(
            self.url + "deliver",
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {DELIVER_TOKEN}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
