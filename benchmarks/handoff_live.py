"""Live latency of the handoff service: how soon an agent's websocket shows what happened.

`python -m benchmarks.handoff_live [--samples N] [--database sqlite|postgresql]`

The app runs in this process on a free 127.0.0.1 port, on a fresh store; an agent logs in over
HTTP and connects its websocket with aiohttp. Then, one sample at a time:

- `intake -> handoff.created`: from sending `POST /api/v1/handoffs` (docs/handoff-intake.md)
  to the agent's websocket delivering `handoff.created` for that conversation;
- `sink -> message.created`: the agent claims one of those conversations, then from
  `EventSink.store` being called with a customer's `user` event (stored, committed, published)
  to `message.created` for it on the owner's websocket.

Client and server share one event loop and two cores, so the figures include the client's
own work; a few warm-up samples are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from benchmarks import summary_ms
from benchmarks.store import add_database_option, throwaway_store
from handoff.app import create_app
from handoff.services.sink import EventSink
from handoff.settings import Settings
from harness.handoff_data import handoff_body, make_agent, user_event
from harness.service import ApiClient, Response, serving

WARMUP = 5
EVENT_TIMEOUT = 10.0  # seconds; only a guard against an event that never comes
NOWHERE = "http://127.0.0.1:9"  # Rasa and the connector are not needed here

Event = dict[str, Any]


class BenchmarkError(RuntimeError):
    """The service answered something other than what the measured path expects."""


def expect(response: Response, status: int, what: str) -> Any:
    if response.status != status:
        raise BenchmarkError(f"{what}: expected {status}, got {response.status} {response.body}")
    return response.body


async def next_event(
    ws: aiohttp.ClientWebSocketResponse, kind: str, matches: Callable[[Event], bool]
) -> Event:
    """The next websocket event of type `kind` that `matches`; earlier ones are skipped."""
    while True:
        event = await asyncio.wait_for(ws.receive_json(), EVENT_TIMEOUT)
        if event["type"] == kind and matches(event):
            return event


async def intake_to_created(
    client: ApiClient, ws: aiohttp.ClientWebSocketResponse, api_token: str
) -> tuple[float, Event]:
    """Seconds from sending an intake to its `handoff.created`; the conversation's JSON."""
    body = handoff_body()
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    started = time.perf_counter()
    posting = asyncio.create_task(
        client.post("/api/v1/handoffs", json=body, token=api_token, headers=headers)
    )
    event = await next_event(
        ws,
        "handoff.created",
        lambda event: event["conversation"]["conversation_id"] == body["conversation_id"],
    )
    elapsed = time.perf_counter() - started
    expect(await posting, 201, "intake")
    return elapsed, event["conversation"]


async def stored_to_message(
    sink: EventSink, ws: aiohttp.ClientWebSocketResponse, sender: str, number: int
) -> float:
    """Seconds from storing a customer's `user` event to its `message.created`."""
    event = user_event(sender, f"are you still there? ({number})", time.time())
    started = time.perf_counter()
    await sink.store([event])
    await next_event(
        ws,
        "message.created",
        lambda live: live["message"]["channel_message_id"] == event["message_id"],
    )
    return time.perf_counter() - started


async def benchmark(samples: int, database: str) -> dict[str, list[float]]:
    api_token = secrets.token_urlsafe(24)
    async with throwaway_store(database) as url:
        settings = Settings(
            database_url=url,
            api_token=api_token,
            delivery_token=secrets.token_urlsafe(24),
            rasa_url=NOWHERE,
            delivery_url=NOWHERE,
            sla_check_seconds=3600,
        )
        app = create_app(settings)
        logging.getLogger("sanic.root").setLevel(logging.WARNING)  # no start-up banner
        async with serving(app) as base_url, aiohttp.ClientSession() as http:
            client = ApiClient(http, base_url)
            agent = await make_agent(app.ctx.sessions)
            credentials = {"email": agent.email, "password": agent.password}
            login = expect(await client.post("/api/v1/auth/login", json=credentials), 200, "login")
            async with client.ws(login["token"]) as ws:
                await next_event(ws, "hello", lambda _: True)
                intake = [await intake_to_created(client, ws, api_token) for _ in range(WARMUP)]
                intake += [await intake_to_created(client, ws, api_token) for _ in range(samples)]
                conversation = intake[-1][1]
                claim = f"/api/v1/conversations/{conversation['id']}/claim"
                expect(await client.post(claim, token=login["token"]), 200, "claim")
                sender = conversation["conversation_id"]
                messages = [
                    await stored_to_message(app.ctx.sink, ws, sender, number)
                    for number in range(WARMUP + samples)
                ]
    results = {
        "intake -> handoff.created": [seconds for seconds, _ in intake[WARMUP:]],
        "sink -> message.created": messages[WARMUP:],
    }
    print(f"{samples} samples each ({WARMUP} warm-up samples left out), database {database}")
    for path, seconds in results.items():
        print(f"{path:<27} {summary_ms(seconds)}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="samples per path (default 200)")
    add_database_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(benchmark(args.samples, args.database))


if __name__ == "__main__":
    main()
