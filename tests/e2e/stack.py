"""Start the real bot processes for end-to-end tests and talk to them like a channel would."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.intake_service import IntakeService

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HANDOFF_PYTHON = ROOT / ".venv-handoff/bin/python"  # the service's own environment
STARTUP_SECONDS = 180.0  # loading TensorFlow and the model on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {seconds} s")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


@dataclass
class Process:
    """A child process whose output goes to a log file shown when a test fails."""

    args: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: self._alive() and _answers(self.health_url), STARTUP_SECONDS, self.args[1])
        return self

    def _alive(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(f"{self.args} exited:\n{self.log_path.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()


def base_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        **extra,
    }


def action_server(port: int, workdir: Path, intake_url: str, rules: Path) -> Process:
    env = base_env(
        HANDOFF_URL=intake_url,
        HANDOFF_API_TOKEN="test-token",
        HANDOFF_OUTBOX_PATH=str(workdir / "outbox.sqlite3"),
        WELCOME_RULES_PATH=str(rules),
    )
    return Process(
        [str(BIN / "python"), "-m", "actions.server", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/health",
        workdir / "actions.log",
    )


def handoff_env(port: int, workdir: Path, rasa_url: str, api_token: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'handoff.sqlite3'}",
        "EVENT_SOURCE": f"sql:sqlite:///{workdir / 'events.sqlite3'}",
        "HANDOFF_API_TOKEN": api_token,
        "DELIVERY_URL": rasa_url,
        "DELIVERY_TOKEN": CHANNEL_SECRETS["DELIVERY_TOKEN"],
        "RASA_URL": rasa_url,
        "HANDOFF_PORT": str(port),
    }


def handoff_service(env: dict[str, str], workdir: Path) -> Process:
    """The handoff service, migrated and with its CLI run first by the caller."""
    url = f"http://127.0.0.1:{env['HANDOFF_PORT']}/health"
    return Process([str(HANDOFF_PYTHON), "-m", "handoff"], env, url, workdir / "handoff.log")


def handoff_cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(HANDOFF_PYTHON), "-m", "handoff.cli", *args], cwd=ROOT, env=env, check=True)


# Channel credentials for bot/credentials.yml; the Graph API is a local stand-in.
CHANNEL_SECRETS = {
    "DELIVERY_TOKEN": "e2e-delivery-token",
    "WHATSAPP_VERIFY_TOKEN": "e2e-wa-verify",
    "WHATSAPP_APP_SECRET": "e2e-wa-secret",
    "WHATSAPP_ACCESS_TOKEN": "e2e-wa-access",
    "WHATSAPP_PHONE_NUMBER_ID": "100200300400500",
    "MESSENGER_VERIFY_TOKEN": "e2e-fb-verify",
    "MESSENGER_APP_SECRET": "e2e-fb-secret",
    "MESSENGER_PAGE_ACCESS_TOKEN": "e2e-fb-access",
}


def rasa_server(
    port: int, action_port: int, workdir: Path, model: Path, graph_url: str = "http://127.0.0.1:9"
) -> Process:
    env = base_env(
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{action_port}/webhook",
        RASA_TRACKER_DB=str(workdir / "tracker.sqlite3"),
        RASA_EVENTS_DB=str(workdir / "events.sqlite3"),
        CONNECTORS_STATE_DB=str(workdir / "connectors.sqlite3"),
        GRAPH_API_URL=graph_url,
        **CHANNEL_SECRETS,
    )
    args = [
        str(BIN / "rasa"), "run", "--model", str(model), "--port", str(port),
        "--interface", "127.0.0.1", "--enable-api",
        "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml",
    ]  # fmt: skip
    return Process(args, env, f"http://127.0.0.1:{port}/status", workdir / "rasa.log")


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
        response = requests.get(url, timeout=30)
        response.raise_for_status()
        return response.json()

    def append_events(self, events: list[dict[str, Any]]) -> None:
        url = f"{self.rasa_url}/conversations/{self.sender}/tracker/events"
        requests.post(url, json=events, timeout=30).raise_for_status()

    def trigger_intent(self, name: str) -> list[str]:
        url = f"{self.rasa_url}/conversations/{self.sender}/trigger_intent?output_channel=latest"
        response = requests.post(url, json={"name": name}, timeout=60)
        response.raise_for_status()
        return [message.get("text") or "" for message in response.json()["messages"]]
