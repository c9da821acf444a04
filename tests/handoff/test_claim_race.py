"""Twenty agents claim the same conversation at once: exactly one wins, in the database."""

from __future__ import annotations

import asyncio

import aiohttp

from handoff.db import create_engine, session_factory
from handoff.delivery import DeliveryClient
from handoff.errors import Conflict
from handoff.http import RetryPolicy
from handoff.live import LocalBroadcaster
from handoff.services.conversations import ConversationService
from harness.handoff_data import auth_service, make_agent, make_conversation

AGENTS = 20


async def test_twenty_services_over_separate_connections(database_url, sessions):
    agents = [await make_agent(sessions) for _ in range(AGENTS)]
    conversation = await make_conversation(sessions)
    engine = create_engine(database_url, pool_size=AGENTS, max_overflow=0)
    http = aiohttp.ClientSession()
    # The winner's "joined" notice goes to a closed port: it is recorded as failed, not raised.
    delivery = DeliveryClient(http, "http://127.0.0.1:9", "token", RetryPolicy(attempts=1))
    try:
        service = ConversationService(session_factory(engine), LocalBroadcaster(), delivery, None)  # type: ignore[arg-type]
        auth = auth_service(sessions)
        principals = [await auth.authenticate(agent.token) for agent in agents]
        results = await asyncio.gather(
            *(service.claim(conversation["id"], who) for who in principals),
            return_exceptions=True,
        )
    finally:
        await http.close()
        await engine.dispose()
    winners = [result for result in results if isinstance(result, dict)]
    losers = [result for result in results if isinstance(result, Conflict)]
    assert len(winners) == 1 and len(losers) == AGENTS - 1
    owner = winners[0]["assigned_agent"]["name"]
    assert all(owner in loser.message for loser in losers)


async def test_twenty_agents_over_http(client, sessions):
    agents = [await make_agent(sessions) for _ in range(AGENTS)]
    conversation = await make_conversation(sessions)
    url = f"/api/v1/conversations/{conversation['id']}/claim"
    answers = await asyncio.gather(*(client.post(url, token=agent.token) for agent in agents))
    assert sorted(answer.status for answer in answers) == [200] + [409] * (AGENTS - 1)
    winner = next(answer.body for answer in answers if answer.status == 200)
    detail = await client.get(f"/api/v1/conversations/{conversation['id']}", token=agents[0].token)
    assert detail.body["assigned_agent"] == winner["assigned_agent"]
