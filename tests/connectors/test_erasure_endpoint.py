"""`POST /webhooks/erasure/erase` against Rasa's real SQL tracker store and SQL event broker,
the connectors' SQLite state and the action server's outbox, all in files."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered

from actions.clients.handoff_intake import HandoffOutbox
from connectors.common.deliveries import DeliveryLedger
from connectors.common.inbox import Inbox
from connectors.erasure import ErasureInput
from connectors.messenger.parsing import Receipt
from connectors.messenger.state import ConversationState
from connectors.whatsapp.parsing import StatusUpdate
from connectors.whatsapp.state import WhatsAppState
from tests.connectors import sanic_app, serving

TOKEN = "erasure-secret"
ANA, BEN = "447700900001", "447700900002"  # WhatsApp ids of two customers


@dataclass
class Bot:
    url: str
    agent: Agent
    workdir: Path

    async def erase(self, body: Any, token: str = TOKEN) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/webhooks/erasure/erase",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as answer,
        ):
            return answer.status, await answer.json()

    def rows(self, db: str, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.workdir / db) as connection:
            return connection.execute(sql, params).fetchall()

    async def customer_talks(self, sender: str, n: int) -> None:
        """A customer line and an agent line delivered through WhatsApp, in every store."""
        store = self.agent.tracker_store
        tracker = await store.get_or_create_tracker(sender)
        tracker.update(UserUttered(f"my card is 4111 {n}", message_id=f"wamid.in-{sender}-{n}"))
        tracker.update(
            BotUttered(
                "Dana: refunded",
                metadata={"handoff_message_id": f"hm-{sender}-{n}", "channel_message_id": None},
            )
        )
        await store.save(tracker)
        state = self.workdir / "connectors.sqlite3"
        await Inbox(state, "whatsapp").accept(sender, f"wamid.in-{sender}-{n}", {"text": "4111"})
        whatsapp = WhatsAppState(state)
        await whatsapp.record_inbound(sender, time.time())
        await whatsapp.record(StatusUpdate(f"wamid.out-{sender}-{n}", "read", sender, time.time()))
        await DeliveryLedger(state, "whatsapp").claim(f"hm-{sender}-{n}")
        await ConversationState(state).record_receipt(Receipt(sender, "read", 1000 * n))
        await HandoffOutbox(self.workdir / "outbox.sqlite3").enqueue(
            {"conversation_id": sender, "customer": {"name": "Ana"}}
        )

    def left_of(self, sender: str) -> dict[str, int]:
        """Rows that still name or belong to `sender` in each file."""
        count = "SELECT count(*) FROM {} WHERE {}"
        checks = {
            "tracker": ("tracker.sqlite3", "events", "sender_id = ?"),
            "broker": ("events.sqlite3", "events", "sender_id = ? OR data LIKE '%4111%' || ?"),
            "inbox": ("connectors.sqlite3", "inbox", "message_id LIKE '%' || ? || '%'"),
            "inbound": ("connectors.sqlite3", "whatsapp_last_inbound", "wa_id = ?"),
            "statuses": ("connectors.sqlite3", "whatsapp_statuses", "recipient_id = ?"),
            "deliveries": ("connectors.sqlite3", "deliveries", "message_id LIKE '%' || ? || '%'"),
            "messenger": ("connectors.sqlite3", "messenger_conversations", "psid = ?"),
            "outbox": ("outbox.sqlite3", "handoff_outbox", "conversation_id = ?"),
        }
        return {
            name: self.rows(db, count.format(table, where), *([sender] * where.count("?")))[0][0]
            for name, (db, table, where) in checks.items()
        }


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    domain = Domain.empty()
    broker = SQLEventBroker(db=str(tmp_path / "events.sqlite3"))
    store = SQLTrackerStore(domain, db=str(tmp_path / "tracker.sqlite3"), event_broker=broker)
    channel = ErasureInput.from_credentials(
        {
            "token": TOKEN,
            "state_path": str(tmp_path / "connectors.sqlite3"),
            "outbox_path": str(tmp_path / "outbox.sqlite3"),
        }
    )

    async def on_new_message(_message: Any) -> None:
        raise AssertionError("the erasure channel never receives conversation messages")

    app = sanic_app("erasure")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/erasure")
    app.ctx.agent = Agent(domain=domain, tracker_store=store)
    async with serving(app) as url:
        yield Bot(url, app.ctx.agent, tmp_path)


async def test_one_customer_is_erased_from_every_store_and_nobody_else(bot: Bot) -> None:
    for n in (1, 2):
        await bot.customer_talks(ANA, n)
        await bot.customer_talks(BEN, n)
    assert all(bot.left_of(ANA).values())

    status, answer = await bot.erase(
        {"sender_id": ANA, "message_ids": [f"wamid.agent-{ANA}-1", f"wamid.agent-{ANA}-2"]}
    )

    assert status == 200, answer
    assert bot.left_of(ANA) == dict.fromkeys(bot.left_of(ANA), 0)
    assert all(bot.left_of(BEN).values())  # the other customer keeps everything
    counts = answer["counts"]
    same_story = await bot.agent.tracker_store.retrieve(BEN)  # BEN said what ANA said
    assert counts["tracker_store"] == len(same_story.events) == 5
    assert counts["event_broker"] == counts["tracker_store"]
    assert counts["outbox"] == 2
    assert counts["connector_state"] == {
        "inbox": 2,
        "whatsapp_last_inbound": 1,
        "whatsapp_statuses": 2,
        "deliveries": 2,
        "messenger_conversations": 1,
        # tables of this customer's number changes, attachments and name: none were written
        "whatsapp_numbers": 0,
        "messenger_media": 0,
        "messenger_profiles": 0,
    }
    assert await bot.agent.tracker_store.retrieve(ANA) is None

    again_status, again = await bot.erase({"sender_id": ANA})
    assert again_status == 200
    assert again["counts"]["tracker_store"] == again["counts"]["event_broker"] == 0


async def test_the_broker_never_hands_out_an_erased_id_again(bot: Bot) -> None:
    """The handoff service tails the broker by id: reused ids would be skipped for good."""
    await bot.customer_talks(BEN, 1)
    await bot.customer_talks(ANA, 1)  # ANA's rows are the newest
    newest = bot.rows("events.sqlite3", "SELECT max(id) FROM events")[0][0]

    status, _ = await bot.erase({"sender_id": ANA})
    await bot.customer_talks(BEN, 2)

    assert status == 200
    later = bot.rows("events.sqlite3", "SELECT id FROM events WHERE sender_id = ?", BEN)
    assert max(row[0] for row in later) > newest
    blank = bot.rows("events.sqlite3", "SELECT sender_id, data FROM events WHERE id = ?", newest)
    assert blank == [(None, '{"event": "erased"}')]


async def test_a_wrong_token_or_a_bad_body_erases_nothing(bot: Bot) -> None:
    await bot.customer_talks(ANA, 1)
    before = bot.left_of(ANA)
    assert (await bot.erase({"sender_id": ANA}, token="guess"))[0] == 401
    for body in (
        {},
        {"sender_id": ""},
        {"sender_id": 5},
        [ANA],
        {"sender_id": ANA, "message_ids": [1]},
    ):
        status, answer = await bot.erase(body)
        assert (status, answer["error"]) == (400, "invalid_body"), body
    assert bot.left_of(ANA) == before


async def test_a_table_without_a_customer_column_is_reported_and_left_alone(bot: Bot) -> None:
    await bot.customer_talks(ANA, 1)
    with sqlite3.connect(bot.workdir / "connectors.sqlite3") as connection:
        connection.execute("CREATE TABLE mystery (value TEXT)")
        connection.execute("INSERT INTO mystery VALUES (?)", (ANA,))
    status, answer = await bot.erase({"sender_id": ANA})
    assert status == 200
    assert answer["counts"]["connector_state_unknown_tables"] == ["mystery"]
    assert bot.rows("connectors.sqlite3", "SELECT count(*) FROM mystery") == [(1,)]


async def test_every_connector_table_can_be_erased_by_customer_or_message_id(bot: Bot) -> None:
    """Guards the convention: a new connector table needs a customer or message id column."""
    await bot.customer_talks(ANA, 1)
    status, answer = await bot.erase({"sender_id": ANA})
    assert status == 200
    assert "connector_state_unknown_tables" not in answer["counts"]
    tables = bot.rows("connectors.sqlite3", "SELECT name FROM sqlite_master WHERE type='table'")
    assert {name for (name,) in tables} == set(answer["counts"]["connector_state"])


def test_the_channel_needs_its_token() -> None:
    from rasa.shared.exceptions import RasaException

    with pytest.raises(RasaException, match="token"):
        ErasureInput.from_credentials({"token": " ", "state_path": "x"})


def test_the_shipped_credentials_mount_the_erasure_endpoint(monkeypatch, tmp_path: Path) -> None:
    from rasa.core.run import create_http_input_channels

    from harness.processes import ROOT
    from harness.stack import CHANNEL_SECRETS

    for name, value in CHANNEL_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRAPH_API_URL", "http://127.0.0.1:9/v21.0")
    monkeypatch.setenv("CONNECTORS_STATE_DB", str(tmp_path / "connectors.sqlite3"))
    monkeypatch.setenv("HANDOFF_OUTBOX_PATH", str(tmp_path / "outbox.sqlite3"))
    monkeypatch.setenv("HANDOFF_URL", "")  # statuses stay local
    monkeypatch.setenv("HANDOFF_API_TOKEN", "")
    channels = create_http_input_channels(None, str(ROOT / "bot/credentials.yml"))
    [erasure] = [c for c in channels if isinstance(c, ErasureInput)]
    assert erasure.token == CHANNEL_SECRETS["ERASURE_TOKEN"]
    assert erasure.outbox_path == tmp_path / "outbox.sqlite3"
