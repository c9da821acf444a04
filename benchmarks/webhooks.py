"""Outbound webhooks: what an endpoint costs the agents' requests, how soon events arrive, and how
fast a backlog drains when a receiver comes back.

`.venv-handoff/bin/python -m benchmarks.webhooks [--notes 200] [--database sqlite|postgresql]`

One service (`create_app`, default settings: the sender looks for due deliveries every second)
on a fresh store. An agent adds internal notes to a claimed conversation, one request at a time;
each note writes a `note.created` event into the outbox of every subscribed endpoint in the
request's transaction. Figures:

1. the note request's duration with no endpoint, a healthy receiver, a receiver that accepts the
   connection and never answers (the 5 s attempt timeout), and a port nobody listens on;
2. for the healthy receiver: from the note's answer to the signed event at the receiver;
3. a backlog: the receiver down while N notes are written, then up: the time until all N arrived
   once, in order (the first attempt after it comes back waits out the endpoint's pause).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from benchmarks import summary_ms
from benchmarks.store import add_database_option, throwaway_store
from handoff.app import create_app
from handoff.db import create_engine, session_factory
from handoff.roles import Role
from handoff.settings import Settings
from harness.handoff_data import make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.webhook_receiver import Receiver

EVENTS = ["note.created"]


async def timed_notes(api: ApiClient, token: str, path: str, count: int) -> list[float]:
    durations = []
    for number in range(count):
        started = time.perf_counter()
        answer = await api.post(path, json={"text": f"note {number}"}, token=token)
        durations.append(time.perf_counter() - started)
        assert answer.status == 201, answer.body
    return durations


async def run(notes: int, database: str) -> None:
    async with throwaway_store(database) as url:
        settings = Settings(
            database_url=url,
            api_token="bench-intake",
            delivery_token="bench-delivery",
            delivery_url="http://127.0.0.1:9",
            rasa_url="http://127.0.0.1:9",
            sla_check_seconds=3600,
        )
        engine = create_engine(url)
        sessions = session_factory(engine)
        admin = await make_agent(sessions, role=Role.ADMIN)
        agent = await make_agent(sessions, teams=("billing",))
        hanging = Receiver(hang=asyncio.Event())
        healthy = Receiver()
        dead = Receiver()  # never up
        await hanging.up()
        await healthy.up()
        try:
            async with (
                serving(create_app(settings)) as base,
                aiohttp.ClientSession() as http,
            ):
                api = ApiClient(http, base)
                print(f"{notes} note requests each, {database}; request duration:")
                for label, receiver in (
                    ("no endpoint", None),
                    ("healthy receiver", healthy),
                    ("hanging receiver", hanging),
                    ("nothing listening", dead),
                ):
                    conversation = await make_conversation(sessions)
                    path = f"/api/v1/conversations/{conversation['id']}"
                    await api.post(f"{path}/claim", token=agent.token)
                    endpoint = None
                    if receiver is not None:
                        body = {"url": receiver.url, "events": EVENTS}
                        endpoint = (
                            await api.post("/api/v1/webhooks", json=body, token=admin.token)
                        ).body
                        receiver.secret = endpoint["secret"]
                    arrivals: list[float] = []
                    if receiver is healthy:
                        durations, arrivals = await delivery_latency(
                            api, agent.token, f"{path}/notes", notes, healthy
                        )
                    else:
                        durations = await timed_notes(api, agent.token, f"{path}/notes", notes)
                    print(f"  {label:<18} {summary_ms(durations)}")
                    if arrivals:
                        print(f"  {'  -> at receiver':<18} {summary_ms(arrivals)}")
                    if endpoint is not None:
                        await api.request(
                            "DELETE", f"/api/v1/webhooks/{endpoint['id']}", token=admin.token
                        )
                await backlog(api, admin.token, agent.token, sessions, notes)
        finally:
            hanging.hang.set()
            await hanging.down()
            await healthy.down()
            await engine.dispose()


async def delivery_latency(
    api: ApiClient, token: str, path: str, count: int, receiver: Receiver
) -> tuple[list[float], list[float]]:
    durations, arrivals = [], []
    for number in range(count):
        started = time.perf_counter()
        answer = await api.post(path, json={"text": f"note {number}"}, token=token)
        answered = time.perf_counter()
        durations.append(answered - started)
        assert answer.status == 201
        await receiver.received(number + 1)
        arrivals.append(time.perf_counter() - answered)
    return durations, arrivals


async def backlog(api: ApiClient, admin_token: str, token: str, sessions, count: int) -> None:
    receiver = Receiver()
    body = {"url": receiver.url, "events": EVENTS}
    endpoint = (await api.post("/api/v1/webhooks", json=body, token=admin_token)).body
    receiver.secret = endpoint["secret"]
    conversation = await make_conversation(sessions)
    path = f"/api/v1/conversations/{conversation['id']}"
    await api.post(f"{path}/claim", token=token)
    await timed_notes(api, token, f"{path}/notes", count)
    await asyncio.sleep(2)  # the sender has found the receiver down and paused the endpoint
    await receiver.up()
    started = time.perf_counter()
    try:
        await receiver.received(count)
        drained = time.perf_counter() - started
        await asyncio.sleep(1)  # anything sent twice would show up now
    finally:
        await receiver.down()
    texts = [event["data"]["note"]["text"] for event in receiver.events]
    in_order = texts == [f"note {number}" for number in range(count)]
    once = len(receiver.ids) == len(set(receiver.ids)) == count
    print(
        f"backlog of {count} while the receiver was down: all arrived {drained:.2f} s after it came"
        f" back ({count / drained:.0f} events/s); once each: {once}; in order: {in_order};"
        f" refused signatures: {receiver.refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200)
    add_database_option(parser)
    args = parser.parse_args()
    asyncio.run(run(args.notes, args.database))


if __name__ == "__main__":
    main()
