"""Automatic assignment: how soon a handoff reaches an agent, and how many assignments a burst
gets per second.

`python -m benchmarks.queue_assignment [--samples N] [--agents 200] [--handoffs 2000]
[--instances 1|2] [--database sqlite|postgresql]`

- `handoff -> assigned`: the app runs in this process on a free 127.0.0.1 port, on a fresh
  store, its team `billing` in `auto` mode; one agent is online with the console's websocket
  open. Per sample: from sending `POST /api/v1/handoffs` to `conversation.assigned` for that
  conversation on the agent's websocket (the service's own queue loop, woken by the arrival);
  the agent then resolves it (not timed) so capacity frees up.
- `burst`: on another fresh store, `--agents` agents are online in `billing` with room for
  10 live chats each and `--handoffs` handoffs are queued through the real intake (not timed);
  then the team is switched to `auto` and `--instances` assignment services (each with its own
  engine, as separate service instances would have) run rounds at once until nothing is left
  to hand out. It prints the time, assignments per second, and checks that every conversation
  was assigned once and no agent is over capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
from sqlalchemy import func, select

from benchmarks import summary_ms
from benchmarks.store import add_database_option, throwaway_store
from handoff.app import create_app
from handoff.db import create_engine, session_factory
from handoff.models import Assignment, Conversation
from handoff.queue_settings import QueueSettings
from handoff.roles import Role
from handoff.settings import Settings
from harness.handoff_data import handoff_body, make_agent
from harness.service import ApiClient, serving
from tests.handoff.queue_setup import make_queue

WARMUP = 3
EVENT_TIMEOUT = 30.0  # seconds; only a guard against an event that never comes
NOWHERE = "http://127.0.0.1:9"  # Rasa and the connector are not needed here
BURST_CAPACITY = 10


async def assigned_event(ws: aiohttp.ClientWebSocketResponse, conversation_pk: str) -> None:
    while True:
        event = await asyncio.wait_for(ws.receive_json(), EVENT_TIMEOUT)
        kind = event.get("type")
        if kind == "conversation.assigned" and event["conversation"]["id"] == conversation_pk:
            return


async def latency(samples: int, database: str) -> list[float]:
    async with throwaway_store(database) as url:
        token = secrets.token_urlsafe(16)
        settings = Settings(
            database_url=url,
            api_token=token,
            delivery_token=secrets.token_urlsafe(16),
            rasa_url=NOWHERE,
            delivery_url=NOWHERE,
            http_retries=1,
        )
        app = create_app(settings)
        engine = create_engine(url)
        async with serving(app) as base_url, aiohttp.ClientSession() as http:
            client = ApiClient(http, base_url)
            sessions = session_factory(engine)
            agent = await make_agent(sessions, teams=("billing",))
            boss = await make_agent(sessions, Role.SUPERVISOR)
            await client.post(
                "/api/v1/teams/billing/queue-mode", json={"mode": "auto"}, token=boss.token
            )
            async with client.ws(agent.token) as ws:
                online = {"presence": "online"}
                await client.post("/api/v1/me/presence", json=online, token=agent.token)
                times: list[float] = []
                for index in range(samples + WARMUP):
                    started = time.perf_counter()
                    created = await client.post(
                        "/api/v1/handoffs",
                        json=handoff_body(),
                        token=token,
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                    await assigned_event(ws, created.body["id"])
                    if index >= WARMUP:
                        times.append(time.perf_counter() - started)
                    resolve = f"/api/v1/conversations/{created.body['id']}/resolve"
                    await client.post(resolve, token=agent.token)
        await engine.dispose()
    return times


async def burst(agents: int, handoffs: int, instances: int, database: str) -> dict[str, Any]:
    async with throwaway_store(database) as url:
        engines = [create_engine(url) for _ in range(instances + 1)]
        try:
            queue = make_queue(session_factory(engines[0]), QueueSettings())
            people = [await queue.online_agent(max_sync=BURST_CAPACITY) for _ in range(agents)]
            for _ in range(handoffs):
                await queue.handoff()
            await queue.assignment.set_team_mode("billing", "auto", None)
            workers = [make_queue(session_factory(engine)) for engine in engines[1:]]
            started = time.perf_counter()
            rounds = await asyncio.gather(*(w.assignment.assign_round() for w in workers))
            seconds = time.perf_counter() - started
            async with queue.sessions() as session:
                loads = Counter(
                    dict(
                        (
                            await session.execute(
                                select(Conversation.assigned_agent_id, func.count())
                                .where(Conversation.status == "assigned")
                                .group_by(Conversation.assigned_agent_id)
                            )
                        )
                        .tuples()
                        .all()
                    )
                )
                history = Counter(
                    (
                        await session.scalars(
                            select(Assignment.conversation_id).where(
                                Assignment.action == "auto_assign"
                            )
                        )
                    ).all()
                )
        finally:
            for engine in engines:
                await engine.dispose()
    made = sum(len(batch) for batch in rounds)
    return {
        "agents": len(people),
        "handoffs": handoffs,
        "assigned": made,
        "seconds": seconds,
        "per_second": made / seconds if seconds else 0.0,
        "max_load": max(loads.values(), default=0),
        "assigned_twice": sum(1 for count in history.values() if count > 1),
    }


async def benchmark(args: argparse.Namespace) -> None:
    times = await latency(args.samples, args.database)
    print(f"queue assignment on {args.database}")
    print(f"handoff -> assigned (n={len(times)}): {summary_ms(times)}")
    result = await burst(args.agents, args.handoffs, args.instances, args.database)
    ok = (
        result["assigned"] == min(args.handoffs, args.agents * BURST_CAPACITY)
        and result["max_load"] <= BURST_CAPACITY
        and result["assigned_twice"] == 0
    )
    print(
        f"burst: {result['handoffs']} handoffs, {result['agents']} online agents x"
        f" {BURST_CAPACITY}, {args.instances} instance(s): {result['assigned']} assigned in"
        f" {result['seconds']:.2f} s = {result['per_second']:.0f} assignments/s;"
        f" max load {result['max_load']}, assigned twice {result['assigned_twice']}"
        f" -> {'ok' if ok else 'WRONG'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    add_database_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(benchmark(args))


if __name__ == "__main__":
    main()
