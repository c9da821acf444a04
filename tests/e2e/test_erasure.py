"""Erasing a WhatsApp customer with the whole product running: the handoff service calls the
bot's erasure endpoint in the real Rasa process, then empties its own store; afterwards no file
of the product holds a row of that customer, and the product goes on working for them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.channels import Agent, MetaCustomer, eventually
from tests.e2e.conftest import Product

pytestmark = pytest.mark.slow


def rows_of(workdir: Path, customer: str, message_ids: set[str]) -> dict[str, int]:
    """Rows naming the customer (or one of their messages) in every SQLite file of the product."""
    found: dict[str, int] = {}
    for path in sorted(workdir.glob("*.sqlite3")):
        with sqlite3.connect(path) as db:
            tables = [
                name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    text = repr(row)
                    if customer in text or any(i in text for i in message_ids):
                        key = f"{path.name}:{table}"
                        found[key] = found.get(key, 0) + 1
    return found


async def test_an_erased_customer_is_gone_from_every_store(product: Product) -> None:
    assert product.workdir is not None
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    await customer.say("hi", expect="virtual assistant")
    await customer.say("I'd like to talk to a person please", expect="person")
    agent = Agent(product.handoff_url)
    await agent.log_in(product.agent_email, product.agent_password)  # an admin
    queued = await agent.queued(customer.id)
    await agent.act(queued["id"], "claim")
    await agent.act(queued["id"], "messages", {"text": "Hi, Dana here."})
    await customer.wait_for("Dana here")
    await customer.send("my card number is 4111 1111 1111 1111")
    # the card is masked before Rasa sees it: the agent gets the mask, never the number
    await agent.customer_line(queued["id"], "my card number is [card ending 1111]")
    lines = (await agent.conversation(queued["id"]))["messages"]
    ids = {m["id"] for m in lines} | {
        m["channel_message_id"] for m in lines if m["channel_message_id"]
    }
    before = rows_of(product.workdir, customer.id, ids)
    for store in ("tracker.sqlite3:events", "events.sqlite3:events", "handoff.sqlite3:messages",
                  "connectors.sqlite3:inbox", "outbox.sqlite3:handoff_outbox"):  # fmt: skip
        assert before.get(store), (store, before)

    record = await agent.erase(queued["id"])

    assert record["status"] == "done", record
    assert record["counts"]["tracker_store"] > 0 and record["counts"]["outbox"] == 1
    assert record["counts"]["handoff_store"]["messages"] == len(lines)
    assert rows_of(product.workdir, customer.id, ids) == {}
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {agent.token}"}
        url = f"{product.handoff_url}/api/v1/conversations/{queued['id']}"
        async with http.get(url, headers=headers) as answer:
            assert answer.status == 404

    # the product still works, for this customer too: a new conversation from scratch
    welcome = await customer.say("hi again", expect="virtual assistant")
    assert welcome

    async def handoff_saw_it() -> bool | None:
        return (
            bool(rows_of(product.workdir, customer.id, set()).get("handoff.sqlite3:conversations"))
            or None
        )

    assert await eventually(handoff_saw_it, "the new conversation in the handoff store")
