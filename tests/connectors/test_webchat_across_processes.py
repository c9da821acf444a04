"""Web chat across Rasa processes: a customer's tab on instance A shows what goes through
instance B (an agent's line posted to B's /deliver, the bot's replies to a message sent on A
after the tab reconnected to B), through the real Redis on this machine.

Two channel apps (each its own server, channel, hub and Redis relay) share one tracker store and
one idempotency state, as two Rasa servers of the scaled topology share theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from connectors.webchat import WebChatInput
from harness.redis_server import REDIS_URL, ensure_redis
from tests.connectors import serving
from tests.connectors.browser.webchat_bench import PREFIX, ScriptedBot, webchat_app
from tests.connectors.test_status_report import HANDOFF_TOKEN
from tests.connectors.test_webchat_activity import handoff_service
from tests.connectors.test_webchat_channel import Tab, _TabContext, deliver, new_session

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Instance:
    url: str
    channel: WebChatInput
    bot: ScriptedBot

    def tab(self, http: aiohttp.ClientSession, session: str) -> _TabContext:
        return _TabContext(http, f"{self.url}{PREFIX}/ws", {"session": session})


@asynccontextmanager
async def two_instances(
    tmp_path: Path, **credentials: str
) -> AsyncIterator[tuple[Instance, Instance]]:
    ensure_redis()
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            app, channel, bot = webchat_app(tmp_path, fanout_url=REDIS_URL, **credentials)
            url = await stack.enter_async_context(serving(app))
            assert channel.hub.relay is not None
            await asyncio.wait_for(channel.hub.relay.listening.wait(), 10)
            started.append(Instance(url, channel, bot))
        yield started[0], started[1]
        for instance in started:
            await instance.channel.tasks.wait_idle()


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    async with two_instances(tmp_path) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def watched(session: str, processes: int) -> None:
    """Until `processes` Rasa processes listen for the conversation (a subscription is set up
    apart from the tab's connect)."""
    redis = aioredis.from_url(REDIS_URL)
    try:
        for _ in range(200):
            [(_, count)] = await redis.pubsub_numsub(f"webchat:{session}")
            if count == processes:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"{processes} processes never listened for {session}")
    finally:
        await redis.close()


async def test_an_agent_line_sent_through_b_reaches_the_tab_on_a(instances, http):
    a, b = instances
    session = new_session()
    async with a.tab(http, session) as tab_on_a:
        await tab_on_a.next("history")
        await tab_on_a.say("I need a person")
        await tab_on_a.bot_reply()
        await a.channel.tasks.wait_idle()
        await watched(session, 1)

        status, answer = await deliver(http, b.url, conversation_id=session, message_id="agent-1")
        line = await tab_on_a.next("message")

    assert (status, answer) == (200, {"status": "sent", "channel_message_id": "agent-1"})
    assert (line["id"], line["author_type"], line["author_name"]) == ("agent-1", "agent", "Dana")


async def test_with_no_tab_open_anywhere_a_line_is_queued_in_the_history(instances, http):
    a, b = instances
    session = new_session()
    async with a.tab(http, session) as tab_on_a:
        await tab_on_a.next("history")
        await tab_on_a.say("Call me back")
        await tab_on_a.bot_reply()
    await a.channel.tasks.wait_idle()
    await watched(session, 0)

    status, answer = await deliver(http, b.url, conversation_id=session, message_id="agent-2")
    async with a.tab(http, session) as tab_on_a:
        history = (await tab_on_a.next("history"))["messages"]

    assert status == 200
    assert answer["note"].startswith("queued")
    assert [line["id"] for line in history][-1] == "agent-2"


async def test_the_bot_reply_reaches_the_tab_after_it_reconnected_to_b(instances, http):
    a, b = instances
    a.bot.release = asyncio.Event()  # hold A's turn while the tab moves to B
    session = new_session()
    async with a.tab(http, session) as tab_on_a:
        await tab_on_a.next("history")
        await tab_on_a.say("Where is my parcel?")
        assert (await tab_on_a.next("message"))["author_type"] == "customer"
    async with b.tab(http, session) as tab_on_b:
        await tab_on_b.next("history")
        await watched(session, 1)
        a.bot.release.set()
        reply = await tab_on_b.bot_reply()
        assert await tab_on_b.next("typing") == {"type": "typing", "on": False}

    assert (reply["author_type"], reply["text"]) == ("bot", "You said: Where is my parcel?")
    assert [message.text for message in b.bot.received] == []


async def test_tabs_on_both_instances_see_the_same_conversation_in_order(instances, http):
    a, b = instances
    session = new_session()
    async with a.tab(http, session) as tab_on_a, b.tab(http, session) as tab_on_b:
        await tab_on_a.next("history")
        await tab_on_b.next("history")
        await watched(session, 2)
        for text in ("first", "second", "third"):
            await tab_on_a.say(text)
            await tab_on_a.bot_reply()
        seen_on_b = [await _line(tab_on_b) for _ in range(6)]

    assert seen_on_b == [
        ("customer", "first"),
        ("bot", "You said: first"),
        ("customer", "second"),
        ("bot", "You said: second"),
        ("customer", "third"),
        ("bot", "You said: third"),
    ]


async def test_the_customer_has_left_only_when_no_process_holds_a_tab(tmp_path, http):
    session = new_session()
    async with (
        handoff_service() as handoff,
        two_instances(tmp_path, handoff_url=handoff.url, handoff_token=HANDOFF_TOKEN) as (a, b),
    ):
        async with a.tab(http, session) as tab_on_a:
            await tab_on_a.next("history")
            async with b.tab(http, session) as tab_on_b:
                await tab_on_b.next("history")
                await watched(session, 2)
            await watched(session, 1)  # B let go of the conversation; A's tab is still open
            await b.channel.tasks.wait_idle()
            assert await handoff.states(2) == ["online", "online"]  # a first tab on each
        assert await handoff.states(3) == ["online", "online", "left"]
    assert len(handoff.bodies) == 3


async def _line(tab: Tab) -> tuple[str, str]:
    frame = await tab.next("message")
    return frame["author_type"], frame["text"]
