"""A customer on Rasa's REST channel and the intake stand-in, for the bot's end-to-end tests.

They need the bot's environment (requests, the actions package), unlike `stack.py`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.processes import free_port
from harness.stack import RASA_TOKEN
from tests.intake_service import IntakeService

API_AUTH = {"token": RASA_TOKEN}


@dataclass
class IntakeThread:
    """The intake stand-in, served from its own event loop so synchronous tests can use it."""

    port: int = field(default_factory=free_port)
    service: IntakeService = field(default_factory=IntakeService)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def __post_init__(self) -> None:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.start(self.port), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self._loop).result(10)

    def requests_for(self, conversation_id: str) -> list[dict[str, Any]]:
        stored = list(self.service.stored.values())
        return [body for body in stored if body["conversation_id"] == conversation_id]


@dataclass
class Conversation:
    """One customer talking to the bot through Rasa's REST channel."""

    rasa_url: str
    sender: str

    def say(self, text: str, metadata: dict[str, Any] | None = None) -> list[str]:
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return [message.get("text") or "" for message in response.json()]

    def tracker(self) -> dict[str, Any]:
        url = f"{self.rasa_url}/conversations/{self.sender}/tracker"
        response = requests.get(url, params=API_AUTH, timeout=30)
        response.raise_for_status()
        return response.json()

    def append_events(self, events: list[dict[str, Any]]) -> None:
        url = f"{self.rasa_url}/conversations/{self.sender}/tracker/events"
        requests.post(url, json=events, params=API_AUTH, timeout=30).raise_for_status()

    def trigger_intent(self, name: str) -> list[str]:
        url = f"{self.rasa_url}/conversations/{self.sender}/trigger_intent"
        params = {**API_AUTH, "output_channel": "latest"}
        response = requests.post(url, json={"name": name}, params=params, timeout=60)
        response.raise_for_status()
        return [message.get("text") or "" for message in response.json()["messages"]]
