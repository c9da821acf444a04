"""Human mode: from a customer's web chat message to the agent's websocket, all processes real.

`.venv-bot/bin/python -m benchmarks.human_mode_latency [--samples 50]`

Starts the action server and the Rasa server as benchmarks.connectors_turn does, and the
handoff service (`.venv-handoff/bin/python -m handoff`) tailing the Rasa server's SQL event
broker file (`EVENT_SOURCE=sql:sqlite:///…`, the default setup of `make run`). A web chat
customer asks for a person ("agent please"); the demo supervisor (`handoff.cli seed-demo`)
logs in, connects the agent websocket, waits for `handoff.created` and claims the
conversation. Then, one sample at a time: from the customer's `message` frame to
`message.created` with that text on the agent's websocket. The path is widget -> Rasa (paused
tracker: NLU runs, the user event is logged, the bot stays quiet) -> SQL event broker -> the
service's SQL tail source (woken by the broker file's change; its 0.25 s poll is only a
fallback) -> store -> websocket. A random pause before each sample keeps the samples out of
step with the fallback poll. Then the same number of `POST /model/parse` calls time Rasa's NLU
alone: its share of the path.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import summary_ms
from benchmarks.connectors_turn import (
    TURN_TIMEOUT,
    BenchmarkError,
    WebChatCustomer,
    show_logs,
    start_bot,
)
from harness.processes import free_port
from harness.stack import HANDOFF_PYTHON, RASA_TOKEN, handoff_cli, handoff_env, handoff_service

API_TOKEN = "test-token"  # the intake token harness.stack.action_server gives the bot
POLL_SECONDS = 0.25  # the SQL tail source's default poll interval
WARMUP = 3
HANDOFF_TIMEOUT = 60.0  # the bot's outbox relay retries the intake with backoff from 1 s

Event = dict[str, Any]


def supervisor_login(env: dict[str, str]) -> tuple[str, str]:
    """Migrates the service's database and seeds the demo agents; the supervisor's login."""
    handoff_cli(env, "migrate")
    printed = handoff_cli(env, "seed-demo")
    for line in printed.splitlines():
        match line.split():
            case ["supervisor", email, "password", password]:
                return email, password
    raise BenchmarkError(f"seed-demo printed no supervisor:\n{printed}")


async def next_event(
    ws: aiohttp.ClientWebSocketResponse, matches: Callable[[Event], bool], timeout: float
) -> Event:
    """The next agent websocket event that `matches`; earlier ones are skipped."""

    async def receive() -> Event:
        while not matches(event := await ws.receive_json()):
            pass
        return event

    return await asyncio.wait_for(receive(), timeout)


async def customer_to_agent(
    customer: WebChatCustomer, agent_ws: aiohttp.ClientWebSocketResponse, number: int
) -> float:
    """Seconds from the customer's frame to `message.created` with its text."""
    text = f"are you still there? ({number}, {secrets.token_hex(3)})"
    await asyncio.sleep(random.uniform(0, 2 * POLL_SECONDS))
    started = time.perf_counter()
    await customer.send(text)
    await next_event(
        agent_ws,
        lambda event: event["type"] == "message.created" and event["message"]["text"] == text,
        TURN_TIMEOUT,
    )
    return time.perf_counter() - started


async def benchmark(samples: int, workdir: Path) -> list[float]:
    handoff_port = free_port()
    handoff_url = f"http://127.0.0.1:{handoff_port}"
    async with AsyncExitStack() as stack:
        rasa_url = await start_bot(stack, workdir, handoff_url=handoff_url)
        env = handoff_env(handoff_port, workdir, rasa_url, API_TOKEN)
        email, password = await asyncio.to_thread(supervisor_login, env)
        service = handoff_service(env, workdir)
        stack.callback(service.stop)
        await asyncio.to_thread(service.start)

        http = await stack.enter_async_context(aiohttp.ClientSession())
        credentials = {"email": email, "password": password}
        async with http.post(f"{handoff_url}/api/v1/auth/login", json=credentials) as answer:
            answer.raise_for_status()
            token = (await answer.json())["token"]
        agent_ws = await stack.enter_async_context(
            http.ws_connect(f"{handoff_url}/api/v1/ws?token={token}")
        )
        await next_event(agent_ws, lambda event: event["type"] == "hello", TURN_TIMEOUT)

        customer = await WebChatCustomer.connect(stack, http, rasa_url)
        draining = asyncio.create_task(customer.drain())
        stack.callback(draining.cancel)
        await customer.send("agent please")
        created = await next_event(
            agent_ws,
            lambda event: (
                event["type"] == "handoff.created"
                and event["conversation"]["conversation_id"] == customer.session_id
            ),
            HANDOFF_TIMEOUT,
        )
        claim = f"{handoff_url}/api/v1/conversations/{created['conversation']['id']}/claim"
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(claim, headers=headers) as answer:
            if answer.status != 200:
                raise BenchmarkError(f"claim: {answer.status} {await answer.text()}")

        seconds = [
            await customer_to_agent(customer, agent_ws, number)
            for number in range(WARMUP + samples)
        ]
        parses = [await parse_time(http, rasa_url, number) for number in range(WARMUP + samples)]
    print(f"{samples} samples ({WARMUP} warm-up samples left out); SQL tail wakes on file changes")
    print(f"{'webchat -> message.created':<28} {summary_ms(seconds[WARMUP:])}")
    print(f"{'of which NLU (/model/parse)':<28} {summary_ms(parses[WARMUP:])}")
    return seconds[WARMUP:]


async def parse_time(http: aiohttp.ClientSession, rasa_url: str, number: int) -> float:
    """Seconds of Rasa's NLU pipeline alone on a text like the samples' (its share of them)."""
    text = f"are you still there? ({number}, {secrets.token_hex(3)})"
    url = f"{rasa_url}/model/parse?token={RASA_TOKEN}"
    started = time.perf_counter()
    async with http.post(url, json={"text": text}) as answer:
        answer.raise_for_status()
        await answer.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50, help="measured messages")
    args = parser.parse_args()
    if not HANDOFF_PYTHON.exists():
        raise SystemExit(f"{HANDOFF_PYTHON} is missing: run `make test-fast` or `make run` once.")
    with tempfile.TemporaryDirectory(prefix="human-mode-bench-") as directory:
        try:
            asyncio.run(benchmark(args.samples, Path(directory)))
        except (BenchmarkError, AssertionError, asyncio.TimeoutError):
            show_logs(Path(directory))
            raise


if __name__ == "__main__":
    main()
