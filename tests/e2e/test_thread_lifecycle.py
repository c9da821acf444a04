"""A handed-off conversation's life after the first answers, through every real process: snoozed
and woken (by its time, by the customer's WhatsApp line), resolved then reopened or restarted
with the bot, and switched between live chat and answer later with the customer told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import pytest

from handoff.notices import notice
from handoff.thread_policy import load_policy
from harness.handoff_store import move_into_the_past
from tests.e2e.channels import Agent, MetaCustomer, WebChatCustomer
from tests.e2e.conftest import Product

pytestmark = pytest.mark.slow
BOT_MARKER = "🤖 "


@pytest.fixture(scope="module")
def product_env() -> dict[str, str]:
    # The snooze timer's round in seconds (a snooze of a few seconds wakes within the test);
    # Dana has no console socket here, so she would otherwise be set away after a minute.
    return {"SLA_CHECK_SECONDS": "1", "PRESENCE_AWAY_GRACE_SECONDS": "3600"}


class Customer(Protocol):
    id: str

    async def send(self, text: str) -> None: ...

    async def wait_for(self, expect: str) -> Any: ...


@asynccontextmanager
async def customer_on(channel: str, product: Product) -> AsyncIterator[Customer]:
    if channel == "webchat":
        async with WebChatCustomer(product.rasa_url) as on_web:
            yield on_web
    else:
        yield MetaCustomer(product.rasa_url, product.graph, channel)


def text_of(line: str | dict[str, Any]) -> str:
    """A line the customer was shown: WhatsApp's text, or a web chat frame's."""
    return line if isinstance(line, str) else line["text"]


async def dana(product: Product) -> Agent:
    agent = Agent(product.handoff_url)
    await agent.log_in(product.agent_email, product.agent_password)
    return agent


async def with_dana(product: Product, customer: Customer) -> tuple[Agent, str]:
    """The customer asks the bot for a person and Dana claims the conversation; her API and its
    id."""
    await customer.send("hi")
    await customer.wait_for("virtual assistant")
    await customer.send("I'd like to talk to a person please")
    await customer.wait_for("person")
    agent = await dana(product)
    pk = (await agent.queued(customer.id))["id"]
    await agent.act(pk, "claim")
    await customer.wait_for("joined the conversation")
    return agent, pk


def is_dana(view: dict[str, Any]) -> bool:
    return view["status"] == "assigned" and (view["assigned_agent"] or {}).get("name") == "Dana"


def customer_lines(view: dict[str, Any]) -> list[str]:
    return [m["text"] for m in view["messages"] if m["author_type"] == "customer"]


async def test_a_snoozed_whatsapp_conversation_wakes_at_its_time_and_when_the_customer_writes(
    product: Product,
) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await with_dana(product, customer)

    soon = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    snoozed = await agent.act(pk, "snooze", {"until": soon, "note": "check the refund batch"})
    assert snoozed["snooze"]["note"] == "check the refund batch" and is_dana(snoozed)
    woken = await agent.conversation_when(pk, lambda v: v["snooze"] is None, "woken by its time")
    assert is_dana(woken)  # back with its owner, the reminder on top of the transcript
    assert "Snooze ended: check the refund batch" in [n["text"] for n in woken["notes"]]

    until_reply = await agent.act(pk, "snooze", {"until": None, "note": "waiting for the receipt"})
    assert until_reply["snooze"]["until"] is None and until_reply["snooze"]["since"]
    await customer.send("here is the receipt: order 55310")
    woken = await agent.conversation_when(pk, lambda v: v["snooze"] is None, "woken by the reply")
    assert is_dana(woken)
    assert customer_lines(woken)[-1] == "here is the receipt: order 55310"
    assert customer.received()[customer.seen :] == []  # no bot, and no word of the snooze

    await agent.act(pk, "messages", {"text": "Thanks, the receipt matches."})
    answer = await customer.wait_for("receipt matches")
    assert answer == "Dana (Lumen Home): Thanks, the receipt matches."


async def resolved_by_dana(product: Product, customer: MetaCustomer) -> tuple[Agent, str]:
    """Handed off, answered and resolved (no survey); the customer was told it is closed."""
    agent, pk = await with_dana(product, customer)
    await agent.act(pk, "messages", {"text": "Your replacement hub ships today."})
    await customer.wait_for("replacement hub ships today")
    resolved = await agent.act(pk, "resolve", {"survey": False})
    assert resolved["status"] == "resolved"
    closed = await customer.wait_for("closed this conversation")
    assert closed == notice("closed", "en", agent="Dana", brand="Lumen Home")
    return agent, pk


async def test_a_whatsapp_line_within_the_reopen_window_reopens_the_conversation_to_its_agent(
    product: Product,
) -> None:
    await (await dana(product)).set_presence("online")  # the last agent: it comes back to her
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await resolved_by_dana(product, customer)

    await customer.send("sorry, one more thing: which cable goes in?")
    reopened = await agent.conversation_when(
        pk, lambda v: v["reopen_count"] == 1, "reopened by the customer's line"
    )
    assert is_dana(reopened) and reopened["resolved_at"] is None and reopened["reopened_at"]
    lines = [m["text"] for m in reopened["messages"]]
    before = lines.index("Your replacement hub ships today.")  # the history is kept
    assert lines.index("sorry, one more thing: which cable goes in?") > before
    assert customer.received()[customer.seen :] == []  # people answer it, not the bot

    await agent.act(pk, "messages", {"text": "The grey one, into the port marked HUB."})
    assert (await customer.wait_for("marked HUB")).startswith("Dana (Lumen Home): ")


async def test_a_whatsapp_line_after_the_reopen_window_goes_to_the_bot_as_a_new_conversation(
    product: Product,
) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await resolved_by_dana(product, customer)
    # The window is whole hours (threads.yml), so let its time pass in the service's store.
    topic = (await agent.conversation(pk))["triage"]["topic"]
    assert product.workdir is not None
    move_into_the_past(product.workdir, pk, load_policy().reopen_window(topic) + timedelta(hours=1))

    await customer.send("hello again, a different question")
    back = await customer.wait_for("virtual assistant")  # the bot greets the customer back
    assert back.startswith(BOT_MARKER)
    restarted = await agent.conversation_when(
        pk, lambda v: v["status"] == "bot", "back with the bot"
    )
    assert restarted["reopen_count"] == 0 and restarted["assigned_agent"] is None
    faq = await customer.say("how do I reset my password", expect="Reset password")
    assert all(line.startswith(BOT_MARKER) for line in faq)

    await customer.say("I'd like to talk to a person please", expect="person")
    queued = await agent.queued(customer.id)  # the new handoff: the same row, the whole history
    assert queued["id"] == pk
    transcript = customer_lines(await agent.conversation(pk))
    assert transcript.index("hi") < transcript.index("hello again, a different question")


@pytest.mark.parametrize("channel", ["whatsapp", "webchat"])
async def test_the_customer_is_told_when_the_agent_switches_between_live_chat_and_later(
    product: Product, channel: str
) -> None:
    async with customer_on(channel, product) as customer:
        agent, pk = await with_dana(product, customer)
        first = (await agent.conversation(pk))["mode"]  # as the bot handed it off
        notices = []
        for mode in ({"sync": "async", "async": "sync"}[first], first):
            assert (await agent.act(pk, "mode", {"mode": mode}))["mode"] == mode
            notices.append(notice(f"mode_{mode}", "en", agent="Dana"))
            told = await customer.wait_for(notices[-1])
            assert text_of(told) == notices[-1]
            if isinstance(told, dict):
                assert told["author_type"] == "system"
        transcript = (await agent.conversation(pk))["messages"]
        assert [m["text"] for m in transcript if m["text"] in notices] == notices
        assert {m["author_type"] for m in transcript if m["text"] in notices} == {"system"}
