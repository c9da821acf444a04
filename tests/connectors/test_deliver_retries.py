"""The handoff service's delivery client retrying into a deliver call that is still sending.

The Graph API stand-in answers after 1 s; the client gives up on an attempt after 0.8 s and
retries, as the service does after its 10 s timeout with a slower channel; the connector holds
the retry up to 0.5 s (shorter than the client's timeout, as 5 s is shorter than 10 s). The
customer must get the line exactly once, and the service must learn the first attempt's outcome.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered

from connectors.common import deliver as deliver_module
from connectors.messenger import MessengerInput
from connectors.whatsapp import WhatsAppInput
from handoff.delivery import Delivery, DeliveryClient
from handoff.http import RetryPolicy
from tests.connectors import sanic_app, serving
from tests.connectors.test_messenger_channel import PSID
from tests.connectors.test_messenger_channel import credentials as messenger_credentials
from tests.connectors.test_messenger_client import TOKEN as MESSENGER_TOKEN
from tests.connectors.test_whatsapp_channel import WA_ID
from tests.connectors.test_whatsapp_channel import settings as whatsapp_settings
from tools.simulator.graph_api import GraphApiStandIn

DELIVER_TOKEN = "deliver-secret"
SLOW_SECONDS = 1.0
IMPATIENT = RetryPolicy(attempts=3, backoff_seconds=0.05, timeout_seconds=0.8)


class Channel:
    """One channel mounted as Rasa mounts it, with a slow Graph API behind it."""

    def __init__(self, name: str, connector: Any, graph: GraphApiStandIn, customer: str) -> None:
        self.name, self.connector, self.graph, self.customer = name, connector, graph, customer
        domain = Domain.empty()
        self.agent = Agent(domain=domain, tracker_store=InMemoryTrackerStore(domain))

    async def customer_wrote_just_now(self) -> None:
        if self.name == "whatsapp":
            await self.connector.state.record_inbound(self.customer, time.time())
        else:
            await self.connector.state.customer_wrote(self.customer, time.time())

    async def transcript(self) -> list[str]:
        tracker = await self.agent.tracker_store.retrieve(self.customer)
        return [e.text for e in (tracker.events if tracker else []) if isinstance(e, BotUttered)]


@pytest.fixture(params=["whatsapp", "messenger"])
async def channel(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Channel]:
    monkeypatch.setattr(deliver_module, "IN_PROGRESS_WAIT_SECONDS", 0.5)
    state = tmp_path / "connectors.sqlite3"
    graph = GraphApiStandIn(other_access_tokens=[MESSENGER_TOKEN], reply_delay_seconds=SLOW_SECONDS)
    async with graph:
        if request.param == "whatsapp":
            connector: Any = WhatsAppInput(whatsapp_settings(graph, state))
            customer = WA_ID
        else:
            connector = MessengerInput.from_credentials(
                messenger_credentials(f"{graph.url}/v21.0", state)
            )
            customer = PSID
        mounted = Channel(request.param, connector, graph, customer)
        app = sanic_app(request.param)
        app.ctx.agent = mounted.agent
        app.blueprint(
            connector.blueprint(lambda _message: asyncio.sleep(0)),
            url_prefix=f"/webhooks/{request.param}",
        )
        async with serving(app) as url, aiohttp.ClientSession() as http:
            mounted.client = DeliveryClient(http, url, DELIVER_TOKEN, IMPATIENT)
            yield mounted


def agent_line(channel: Channel) -> Delivery:
    text = "Dana here: your replacement hub ships today."
    return Delivery(channel.customer, channel.name, uuid.uuid4().hex, "agent", "Dana", text)


def sends(channel: Channel) -> list[Any]:
    """What reached the Graph API, typing indicators left out."""
    return [body for body in channel.graph.sent if "sender_action" not in body]


async def test_a_retry_while_the_first_attempt_sends_gets_its_outcome(channel: Channel) -> None:
    await channel.customer_wrote_just_now()
    result = await channel.client.deliver(agent_line(channel))

    assert result.status == "sent"
    assert len(sends(channel)) == 1
    assert result.channel_message_id is not None
    assert await channel.transcript() == ["Dana here: your replacement hub ships today."]


async def test_a_retry_told_in_progress_asks_again_and_nothing_is_sent_twice(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliver_module, "IN_PROGRESS_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(deliver_module, "RETRY_AFTER_SECONDS", 1)
    await channel.customer_wrote_just_now()
    result = await channel.client.deliver(agent_line(channel))

    assert result.status == "sent"
    assert len(sends(channel)) == 1
    assert len(await channel.transcript()) == 1


async def test_after_a_refusal_a_later_retry_sends_it(channel: Channel) -> None:
    line = agent_line(channel)  # the customer never wrote: outside every window
    refused = await channel.client.deliver(line)
    await channel.customer_wrote_just_now()
    retried = await channel.client.deliver(line)

    assert (refused.status, retried.status) == ("failed", "sent")
    assert len(sends(channel)) == 1
