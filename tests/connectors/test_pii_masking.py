"""Personal data typed on a channel is masked before Rasa sees it: the tracker store, the event
broker (Rasa's SQL broker, what the handoff service tails) and the logs only hold the mask.

Real channel blueprints on a real sanic app, a real Rasa `Agent` over a SQLite tracker store
publishing to a SQLite event broker, and the scripted bot of the web chat bench for Rasa's turn.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.domain import Domain

from bot.tracker_store import CountingSQLTrackerStore
from connectors.common.attachments import attachment
from connectors.common.pii import load_rules, main, mask_message, masked_messages
from connectors.common.signature import sign_meta_payload
from connectors.messenger import MessengerInput
from connectors.webchat import WebChatInput
from connectors.whatsapp import WhatsAppInput
from contracts.pii import PiiConfigError
from tests.connectors import sanic_app, serving
from tests.connectors.browser.webchat_bench import PREFIX, ScriptedBot
from tests.connectors.test_messenger_channel import SECRET, credentials, text_from
from tests.connectors.test_messenger_client import messenger_graph
from tests.connectors.test_webchat_channel import Tab
from tests.connectors.test_whatsapp_channel import APP_SECRET, FIXTURES, settings
from tools.simulator.graph_api import GraphApiStandIn

TYPED = "card 4242 4242 4242 4242, my password is Hunter2!x and ssn 123-45-6789"
MASKED = "card [card ending 4242], my password is [password] and ssn [national id]"
RAW_PARTS = ("4242 4242 4242 4242", "Hunter2!x", "123-45-6789")


@dataclass(frozen=True)
class Stores:
    tracker_db: Path
    events_db: Path

    def assert_only_masked(self) -> None:
        for path in (self.tracker_db, self.events_db):
            stored = _all_bytes(path)
            assert MASKED.encode() in stored or json.dumps(MASKED).encode() in stored, path
            for raw in RAW_PARTS:
                assert raw.encode() not in stored, (path, raw)


def _all_bytes(path: Path) -> bytes:
    """The database file with its write-ahead log, as it is on disk."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def agent_with_broker(tmp_path: Path) -> tuple[ScriptedBot, Stores]:
    """Rasa's agent as `bot/endpoints.yml` configures it: SQL tracker store, SQL event broker."""
    stores = Stores(tmp_path / "tracker.db", tmp_path / "events.db")
    domain = Domain.empty()
    store = CountingSQLTrackerStore(
        domain,
        dialect="sqlite",
        db=str(stores.tracker_db),
        event_broker=SQLEventBroker(db=str(stores.events_db)),
    )
    agent = Agent(domain=domain, tracker_store=store, lock_store=InMemoryLockStore())
    return ScriptedBot(agent), stores


async def broker_texts(stores: Stores) -> list[str]:
    with sqlite3.connect(stores.events_db) as conn:
        rows = conn.execute("SELECT data FROM events").fetchall()
    return [json.loads(data).get("text") for (data,) in rows if json.loads(data)["event"] == "user"]


async def test_whatsapp_tracker_and_event_stream_only_get_the_masked_text(
    tmp_path: Path,
) -> None:
    bot, stores = agent_with_broker(tmp_path)
    async with GraphApiStandIn() as graph:
        channel = WhatsAppInput(settings(graph, tmp_path / "state.sqlite3"))
        app = sanic_app("whatsapp-pii")
        app.ctx.agent = bot.agent
        app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/whatsapp")
        payload = json.loads((FIXTURES / "text.json").read_text())
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = TYPED
        body = json.dumps(payload).encode()
        async with serving(app) as url, aiohttp.ClientSession() as http:
            headers = {"X-Hub-Signature-256": sign_meta_payload(body, APP_SECRET)}
            async with http.post(f"{url}/webhooks/whatsapp/webhook", data=body, headers=headers):
                pass
            await channel.tasks.wait_idle()

    assert [m.text for m in bot.received] == [MASKED]
    tracker = await bot.agent.tracker_store.retrieve(bot.received[0].sender_id)
    assert tracker is not None and tracker.latest_message.text == MASKED
    assert await broker_texts(stores) == [MASKED]
    stores.assert_only_masked()


async def test_webchat_tracker_event_stream_and_history_only_get_the_masked_text(
    tmp_path: Path,
) -> None:
    bot, stores = agent_with_broker(tmp_path)
    channel = WebChatInput.from_credentials(
        {"deliver_token": "deliver-secret", "state_path": str(tmp_path / "webchat.sqlite")}
    )
    app = sanic_app("webchat-pii")
    app.ctx.agent = bot.agent
    app.blueprint(channel.blueprint(bot), url_prefix=PREFIX)
    session = str(uuid.uuid4())
    async with serving(app) as base, aiohttp.ClientSession() as http:
        url = f"{base}{PREFIX}/ws"
        async with http.ws_connect(url, params={"session": session}) as ws:
            tab = Tab(ws)
            await tab.next("history")
            await tab.say(TYPED)
            reply = await tab.bot_reply()
        await channel.tasks.wait_idle()
        async with http.ws_connect(url, params={"session": session}) as ws:
            history = await Tab(ws).next("history")

    assert reply["text"] == f"You said: {MASKED}"  # the bot only ever saw the mask
    assert history["messages"][0]["text"] == MASKED
    assert await broker_texts(stores) == [MASKED]
    stores.assert_only_masked()


async def test_messenger_masks_the_text_and_a_failing_turn_logs_no_customer_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[UserMessage] = []

    async def failing_bot(message: UserMessage) -> None:
        received.append(message)
        raise RuntimeError("the bot fell over")

    async with messenger_graph() as graph:
        channel = MessengerInput.from_credentials(
            credentials(graph.url + "/v21.0", tmp_path / "state.db")
        )
        app = sanic_app("messenger-pii")
        app.blueprint(channel.blueprint(failing_bot), url_prefix="/webhooks/messenger")
        body = text_from("6543210987654321", "m_pii", TYPED, 1732352752.0)
        with caplog.at_level(logging.DEBUG):
            async with serving(app) as url, aiohttp.ClientSession() as http:
                headers = {"X-Hub-Signature-256": sign_meta_payload(body, SECRET)}
                async with http.post(
                    f"{url}/webhooks/messenger/webhook", data=body, headers=headers
                ) as answer:
                    assert answer.status == 200
                await channel.tasks.wait_idle()

    assert [m.text for m in received] == [MASKED]
    assert "Messenger event m_pii could not be handled" in caplog.text
    for raw in RAW_PARTS:
        assert raw not in caplog.text


def test_metadata_texts_a_customer_wrote_are_masked_too() -> None:
    rules = load_rules(Path("bot/pii.yml"))
    message = UserMessage(
        text="4242424242424242",
        metadata={
            "display_text": "pw: secret1",
            "attachments": [attachment("image", caption="4242424242424242", media_id="42")],
            "form_response": {"name": "flow", "answers": {"card": "4242424242424242", "n": 2}},
            "wa_id": "4242424242424242",  # ids are not customer text: left as they are
        },
    )
    masked = mask_message(message, rules)
    assert masked.text == "[card ending 4242]"
    assert masked.metadata == {
        "display_text": "pw: [password]",
        "attachments": [attachment("image", caption="[card ending 4242]", media_id="42")],
        "form_response": {"name": "flow", "answers": {"card": "[card ending 4242]", "n": 2}},
        "wa_id": "4242424242424242",
    }


async def test_a_broken_rules_file_stops_the_channel_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "pii.yml"
    broken.write_text("rules:\n  - name: card\n    kind: card\n    mask: card\n")
    monkeypatch.setenv("PII_RULES_PATH", str(broken))

    async def bot(message: UserMessage) -> None: ...

    with pytest.raises(PiiConfigError, match="rule 'card' field 'mask'"):
        masked_messages(bot)
    assert main([str(broken)]) == 1
    assert main(["bot/pii.yml"]) == 0


@pytest.fixture(autouse=True)
def _fresh_rules() -> AsyncIterator[None]:
    load_rules.cache_clear()
    yield
    load_rules.cache_clear()
