"""Several handoff instances on one store: live events cross instances through Redis, in order;
a client that dropped resyncs by its per-conversation seq cursor; timers run once across them.

Two apps run side by side in this process (each its own server, engine, Redis connections and
job-lease holder) on the same PostgreSQL database and a Redis channel of this test's own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
import redis.asyncio as aioredis
from sanic import Sanic

from handoff.app import create_app
from handoff.live import LocalBroadcaster, RedisBroadcaster
from handoff.periodic import holds_lease, leased
from handoff.services.resync import lines_after
from handoff.services.sink import EventSink
from handoff.settings import Settings
from harness.handoff_data import handoff_body, make_agent, make_conversation, user_event
from harness.redis_server import REDIS_URL, ensure_redis
from harness.service import ApiClient, eventually, serving
from tests.handoff.test_live import next_event

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def scaled_settings(settings: Settings) -> Settings:
    ensure_redis()
    return replace(settings, live_redis_url=REDIS_URL, live_channel=f"test:{uuid.uuid4().hex}")


class Instance:
    def __init__(self, app: Sanic, client: ApiClient) -> None:
        self.app = app
        self.client = client

    @property
    def live(self) -> RedisBroadcaster:
        return self.app.ctx.live


@pytest.fixture
async def instances(scaled_settings: Settings) -> AsyncIterator[tuple[Instance, Instance]]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        started = []
        for _ in range(2):
            app = create_app(scaled_settings)
            url = await stack.enter_async_context(serving(app))
            await asyncio.wait_for(app.ctx.live.listening.wait(), 10)
            started.append(Instance(app, ApiClient(http, url)))
        yield started[0], started[1]


async def intake(instance: Instance) -> dict:
    body = handoff_body()
    response = await instance.client.post(
        "/api/v1/handoffs",
        json=body,
        token=instance.app.ctx.settings.api_token,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status == 201, response.body
    return response.body


async def customer_says(instance: Instance, sender: str, texts: list[str], at: float) -> None:
    for number, text in enumerate(texts):
        event = user_event(sender, text, at + number, f"{sender}-{text}")
        await instance.app.ctx.sink.store([event])


async def messages_in(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    return [(await next_event(ws, "message.created"))["message"] for _ in range(count)]


@postgresql_only
async def test_an_agent_on_one_instance_sees_what_the_other_stored_in_order(instances, sessions):
    a, b = instances
    agent = await make_agent(sessions)
    async with a.client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        created = await intake(b)
        assert (await next_event(ws, "handoff.created"))["conversation"]["id"] == created["id"]

        texts = [f"line {number}" for number in range(30)]
        await customer_says(b, created["conversation_id"], texts, time.time())
        lines = await messages_in(ws, len(texts))
    assert [line["text"] for line in lines] == texts
    seqs = [line["seq"] for line in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@postgresql_only
async def test_a_reconnecting_agent_gets_exactly_what_it_missed_by_its_seq_cursor(
    instances, sessions
):
    a, b = instances
    agent = await make_agent(sessions)
    created = await intake(b)
    sender, at = created["conversation_id"], time.time()
    async with a.client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        await customer_says(b, sender, ["before the drop"], at)
        cursor = (await messages_in(ws, 1))[0]["seq"]
    # While the agent is away: three new lines on B, and one of them delivered twice.
    missed = ["while away 1", "while away 2", "while away 3"]
    await customer_says(b, sender, missed, at + 10)
    await customer_says(b, sender, missed[1:2], at + 11)

    url = f"/api/v1/conversations/{created['id']}/messages?after_seq={cursor}"
    resync = await a.client.get(url, token=agent.token)
    assert resync.status == 200
    assert [line["text"] for line in resync.body["messages"]] == missed
    assert resync.body["last_seq"] >= resync.body["messages"][-1]["seq"]  # a redelivery: a gap
    assert resync.body["more"] is False
    again = f"/api/v1/conversations/{created['id']}/messages?after_seq={resync.body['last_seq']}"
    assert (await a.client.get(again, token=agent.token)).body["messages"] == []


@postgresql_only
async def test_the_customers_presence_reported_to_one_instance_is_known_to_the_other(
    instances, sessions
):
    a, b = instances
    agent = await make_agent(sessions)
    created = await intake(b)
    report = {
        "channel": "webchat",
        "conversation_id": created["conversation_id"],
        "state": "typing",
        "at": "2026-11-23T10:00:04.000Z",
    }
    url = f"/api/v1/conversations/{created['id']}"

    async def known_on_b() -> bool:
        detail = (await b.client.get(url, token=agent.token)).body
        return detail["customer_activity"] == {"state": "typing", "at": report["at"]}

    async with b.client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        answer = await a.client.post(
            "/api/v1/customer-activity", json=report, token=a.app.ctx.settings.api_token
        )
        assert answer.status == 200
        event = await next_event(ws, "customer.activity")
    assert event["conversation_id"] == created["id"]
    await eventually(known_on_b)


async def test_resync_refuses_a_bad_cursor_and_an_unknown_conversation(client, sessions):
    agent = await make_agent(sessions)
    created = await make_conversation(sessions)
    url = f"/api/v1/conversations/{created['id']}/messages"
    for bad in ("-1", "x", "1.5", "9" * 19):
        response = await client.get(f"{url}?after_seq={bad}", token=agent.token)
        assert (response.status, response.body["error"]) == (422, "invalid")
    missing = await client.get("/api/v1/conversations/nope/messages", token=agent.token)
    assert missing.status == 404
    assert (await client.get(url)).status == 401


async def test_seq_counts_per_conversation_and_a_redelivery_adds_no_line(sessions):
    sink, at = EventSink(sessions, LocalBroadcaster()), time.time()
    first, second = (uuid.uuid4().hex for _ in range(2))
    pks = [(await make_conversation(sessions, conversation_id=s))["id"] for s in (first, second)]
    await sink.store([user_event(first, "a", at, "m1"), user_event(second, "b", at, "m2")])
    await sink.store([user_event(first, "a", at, "m1"), user_event(first, "c", at + 1, "m3")])

    for pk, customer_texts in zip(pks, (["a", "c"], ["b"]), strict=True):
        page = await lines_after(sessions, pk, 0)
        lines = page["messages"]
        seqs = [line["seq"] for line in lines]
        assert seqs[0] == 1 and seqs == sorted(set(seqs)) and page["last_seq"] >= seqs[-1]
        texts = [line["text"] for line in lines if line["author_type"] == "customer"]
        assert texts[-len(customer_texts) :] == customer_texts  # after the intake's transcript
        assert texts.count("a") <= 1


@postgresql_only
async def test_events_after_a_lost_subscription_arrive_and_clients_are_told_to_resync(
    instances, sessions
):
    a, b = instances
    agent = await make_agent(sessions)
    redis = aioredis.from_url(REDIS_URL)
    try:
        async with a.client.ws(agent.token) as ws:
            await next_event(ws, "hello")
            await redis.publish(a.app.ctx.settings.live_channel, b"not an envelope")
            killed = await redis.client_kill_filter(_type="pubsub", skipme=True, laddr=None)
            assert killed >= 1
            await next_event(ws, "resync")
            await eventually(lambda: _listening(a, b))
            created = await intake(b)
            event = await next_event(ws, "handoff.created")
            assert event["conversation"]["id"] == created["id"]
    finally:
        await redis.aclose()


async def _listening(*instances: Instance) -> bool:
    return all(instance.live.listening.is_set() for instance in instances)


def test_without_redis_the_fan_out_stays_in_the_process(settings):
    assert isinstance(create_app(settings).ctx.live, LocalBroadcaster)


async def test_a_leased_job_runs_on_one_instance_until_its_lease_runs_out(sessions):
    rounds: list[str] = []

    def job_of(holder: str):
        async def job() -> None:
            rounds.append(holder)

        return leased(sessions, "test-job", holder, 60, job)

    on_a, on_b = job_of("a"), job_of("b")
    for _ in range(3):
        await asyncio.gather(on_a(), on_b())
    assert rounds == ["a", "a", "a"] or rounds == ["b", "b", "b"]
    holder = rounds[0]
    other = "b" if holder == "a" else "a"
    assert not await holds_lease(sessions, "test-job", other, timedelta(seconds=60))
    # The holder stops renewing: once its lease ran out the other one takes over.
    assert await holds_lease(sessions, "test-job", holder, timedelta(seconds=-1))
    assert await holds_lease(sessions, "test-job", other, timedelta(seconds=60))
