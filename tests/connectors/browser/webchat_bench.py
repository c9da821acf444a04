"""A web chat test bench: the real channel blueprint in a real sanic app, a real Rasa `Agent`
(no model) over a SQLite tracker store, and a scripted bot in place of Rasa's message processor.

Shared by the fast tests and by the browser tests, which start it as a subprocess
(`python -m tests.connectors.browser.webchat_bench --port ... --state ...`).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

from connectors.webchat import WebChatInput
from tests.connectors import sanic_app

DELIVER_TOKEN = "webchat-deliver-secret"
PREFIX = "/webhooks/webchat"
MENU = [
    {"title": "Track my order", "payload": "/track_order"},
    {"title": "Device offline", "payload": "/device_offline"},
]


class ScriptedBot:
    """Plays Rasa's part of a turn like `MessageProcessor` does: under the conversation lock it
    logs the user event, answers through the message's output channel, saves the tracker.

    "/request_human" gets the handoff answer; anything else is echoed with two buttons.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.received: list[UserMessage] = []
        self.release: asyncio.Event | None = None  # set by a test to hold turns open

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.release is not None:
            await self.release.wait()
        store = self.agent.tracker_store
        async with self.agent.lock_store.lock(message.sender_id):
            tracker = await store.get_or_create_tracker(message.sender_id)
            tracker.update(
                UserUttered(
                    message.text,
                    metadata=message.metadata,
                    input_channel=message.input_channel,
                    message_id=message.message_id,
                )
            )
            for reply in self.replies(message.text or ""):
                tracker.update(reply)
                await message.output_channel.send_response(message.sender_id, reply.message())
            await store.save(tracker)

    @staticmethod
    def replies(text: str) -> list[BotUttered]:
        if text == "/request_human":
            return [BotUttered("Sure, I'm bringing in a person from our team.")]
        if text in ("/track_order", "/device_offline"):
            return [BotUttered(f"Let's look at that ({text[1:].replace('_', ' ')}).")]
        return [BotUttered(f"You said: {text}", data={"buttons": MENU})]


def make_agent(tracker_db: Path) -> Agent:
    domain = Domain.empty()
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tracker_db))
    return Agent(domain=domain, tracker_store=store, lock_store=InMemoryLockStore())


def webchat_app(state_dir: Path, **credentials: Any) -> tuple[Sanic, WebChatInput, ScriptedBot]:
    """The app Rasa would build: the channel's blueprint under /webhooks/webchat, the agent on
    `app.ctx.agent`. Tracker store and idempotency state live in `state_dir`."""
    channel = WebChatInput.from_credentials(
        {
            "deliver_token": DELIVER_TOKEN,
            "state_path": str(state_dir / "webchat.sqlite"),
            **credentials,
        }
    )
    agent = make_agent(state_dir / "tracker.db")
    bot = ScriptedBot(agent)
    app = sanic_app("webchat")
    app.ctx.agent = agent
    app.blueprint(channel.blueprint(bot), url_prefix=PREFIX)
    return app, channel, bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--handoff-url", default="", help="where the customer's presence goes")
    parser.add_argument("--handoff-token", default="")
    args = parser.parse_args()
    app, _, _ = webchat_app(
        args.state, handoff_url=args.handoff_url, handoff_token=args.handoff_token
    )
    app.run(host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
