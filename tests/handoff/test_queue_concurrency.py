"""Automatic assignment is decided in the database: several service instances assigning at once
never give one conversation to two agents nor fill an agent past their capacity; presence
follows the console's sockets, live over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from dataclasses import replace

import aiohttp
from sqlalchemy import func, select

from handoff.app import create_app
from handoff.db import create_engine, session_factory
from handoff.models import Conversation
from handoff.queue_settings import QueueSettings
from handoff.roles import Role
from harness.handoff_data import handoff_body, make_agent
from harness.service import ApiClient, eventually, serving
from tests.handoff.conftest import API_TOKEN
from tests.handoff.queue_setup import make_queue

INSTANCES = 4
AGENTS = 8
CAPACITY = 2
HANDOFFS = 30


async def loads(sessions) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Conversation.assigned_agent_id, func.count())
            .where(Conversation.status == "assigned")
            .group_by(Conversation.assigned_agent_id)
        )
        return Counter(dict(rows.tuples().all()))


async def test_instances_assigning_at_once_never_double_assign_nor_overfill(database_url, sessions):
    queue = make_queue(sessions)
    await queue.auto()
    agents = [await queue.online_agent(max_sync=CAPACITY) for _ in range(AGENTS)]
    conversations = [await queue.handoff() for _ in range(HANDOFFS)]
    engines = [create_engine(database_url) for _ in range(INSTANCES)]
    try:
        instances = [make_queue(session_factory(engine)) for engine in engines]
        rounds = await asyncio.gather(
            *(instance.assignment.assign_round() for instance in instances for _ in range(3))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    made = [assigned for batch in rounds for assigned in batch]
    assert len(made) == AGENTS * CAPACITY
    assert len({assigned.conversation_id for assigned in made}) == len(made)  # none twice
    per_agent = await loads(sessions)
    assert set(per_agent) <= {agent.id for agent in agents}
    assert max(per_agent.values()) <= CAPACITY and sum(per_agent.values()) == AGENTS * CAPACITY
    history = Counter(row.conversation_id for row in await queue.history("auto_assign"))
    assert set(history.values()) == {1}
    queued = [pk for pk in conversations if (await queue.row(pk)).status == "queued"]
    assert len(queued) == HANDOFFS - AGENTS * CAPACITY


def with_queue(settings, **values):
    return replace(settings, queue=QueueSettings(assign_every_seconds=0.2, **values))


async def test_two_service_instances_share_a_burst_of_handoffs(settings, sessions):
    apps = [create_app(with_queue(settings)) for _ in range(2)]
    agents = [await make_agent(sessions, teams=("billing",)) for _ in range(AGENTS // 2)]
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    async with serving(apps[0]) as one, serving(apps[1]) as two, aiohttp.ClientSession() as http:
        clients = [ApiClient(http, one), ApiClient(http, two)]
        mode = await clients[0].post(
            "/api/v1/teams/billing/queue-mode", json={"mode": "auto"}, token=supervisor.token
        )
        assert mode.status == 200 and mode.body["mode"] == "auto"
        for agent in agents:
            capacity = {"max_sync": CAPACITY}
            set_capacity = await clients[1].post(
                f"/api/v1/agents/{agent.id}/queue", json=capacity, token=supervisor.token
            )
            assert set_capacity.status == 200
            online = await clients[0].post(
                "/api/v1/me/presence", json={"presence": "online"}, token=agent.token
            )
            assert online.status == 200 and online.body["presence"] == "online"
        async with contextlib.AsyncExitStack() as sockets:
            for i, agent in enumerate(agents):  # each agent's console, on either instance
                await sockets.enter_async_context(clients[i % 2].ws(agent.token))
            answers = await asyncio.gather(
                *(
                    clients[i % 2].post(
                        "/api/v1/handoffs",
                        json=handoff_body(),
                        token=API_TOKEN,
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                    for i in range(HANDOFFS)
                )
            )
            assert {answer.status for answer in answers} == {201}
            total = len(agents) * CAPACITY

            async def all_full() -> bool:
                return sum((await loads(sessions)).values()) == total

            await eventually(all_full)
            await asyncio.sleep(0.5)  # further rounds on both instances change nothing
            per_agent = await loads(sessions)
            assert sum(per_agent.values()) == total and max(per_agent.values()) == CAPACITY
            me = await clients[1].get("/api/v1/me/presence", token=agents[0].token)
            assert me.body["load"] == {"sync": CAPACITY, "async": 0}


async def test_an_agent_without_console_goes_away_after_the_grace_period(settings, sessions):
    app = create_app(with_queue(settings, away_grace_seconds=0.5))
    agent = await make_agent(sessions, teams=("billing",))
    async with serving(app) as url, aiohttp.ClientSession() as http:
        client = ApiClient(http, url)
        async with client.ws(agent.token) as ws:
            await client.post("/api/v1/me/presence", json={"presence": "online"}, token=agent.token)
            await asyncio.sleep(1.0)  # well past the grace period, socket open: still online
            me = await client.get("/api/v1/me/presence", token=agent.token)
            assert me.body["presence"] == "online"
            await ws.close()

        async def away() -> bool:
            me = await client.get("/api/v1/me/presence", token=agent.token)
            return me.body["presence"] == "away"

        await eventually(away, seconds=10)
        refused = await client.post(
            "/api/v1/me/presence", json={"presence": "busy"}, token=agent.token
        )
        assert refused.status == 422 and refused.body["error"] == "invalid_presence"
        forbidden = await client.post(
            "/api/v1/teams/billing/queue-mode", json={"mode": "auto"}, token=agent.token
        )
        assert forbidden.status == 403
