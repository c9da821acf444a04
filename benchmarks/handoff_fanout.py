"""Fan-out to many agent websockets: how soon every one of them shows a customer's message, and
what a connection costs the service in memory.

`.venv-handoff/bin/python -m benchmarks.handoff_fanout [--agents 1000] [--samples 30]
[--database sqlite|postgresql] [--instances 1|2]`

The service runs as real processes (`python -m handoff`, on a fresh store); this process is
only the client. `--agents` websockets connect to instance A (one agent's session token, so
the logins' password hashing does not dominate the set-up). A handed-off conversation is
queued, so every agent hears its lines. Per sample a customer `user` event is written to a
Rasa-style SQL event broker file (SQLite) that the ingesting instance tails, woken by the file
change (`handoff/ingest/sources/wakeup.py`). With `--instances 2` instance B ingests and the
event reaches A's sockets through Redis (`LIVE_REDIS_URL`, a channel of this run's own); with 1,
A ingests it itself.

Printed: the latency from writing the broker row to each socket receiving `message.created`
(all sockets of all samples: min / median / p95 / p99 / max), the same for the last socket of
each sample, and A's resident memory before and after the sockets connected, per connection.
The client reads every frame of every socket on one event loop, so its own work is in the
figures too (it looks for the sample's marker in the frame's text without parsing the JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

from benchmarks import summary_ms
from benchmarks.store import add_database_option, throwaway_store
from handoff.db import create_engine, session_factory
from harness.handoff_data import handoff_body, make_agent, user_event
from harness.service import free_socket
from tests.handoff.test_sources_sql import write_rows

REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 60.0
SAMPLE_TIMEOUT = 60.0
CONNECT_BATCH = 50  # sockets opened at a time
MARKER = re.compile(r"fanout-(\d+)-[0-9a-f]{6}")


class Service:
    """One `python -m handoff` process on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with free_socket() as sock:
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handoff"],
            env={**os.environ, **env, "HANDOFF_PORT": str(self.port)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service stopped at start-up; see {self._log.name}")
            try:
                async with http.get(f"{self.url}/health") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the service did not start in {START_TIMEOUT} s")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


async def listen(ws: aiohttp.ClientWebSocketResponse, arrivals: dict[int, list[float]]) -> None:
    async for frame in ws:
        if frame.type == aiohttp.WSMsgType.TEXT and (found := MARKER.search(frame.data)):
            arrivals[int(found.group(1))].append(time.perf_counter())


async def benchmark(agents: int, samples: int, database: str, instances: int) -> None:
    api_token = secrets.token_urlsafe(24)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(throwaway_store(database))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fanout-")))
        broker = workdir / "rasa-events.sqlite3"
        write_rows(broker, [])  # the table, before the tail starts
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        agent = await make_agent(session_factory(engine))
        common = {
            "DATABASE_URL": url,
            "HANDOFF_API_TOKEN": api_token,
            "DELIVERY_TOKEN": secrets.token_urlsafe(24),
            "RASA_URL": "http://127.0.0.1:9",
            "DELIVERY_URL": "http://127.0.0.1:9",
        }
        if instances == 2:
            common["LIVE_REDIS_URL"] = REDIS_URL
            common["LIVE_CHANNEL"] = f"bench:{uuid.uuid4().hex}"
        tail = {"EVENT_SOURCE": f"sql:sqlite:///{broker}"}
        services = [Service({**common, **(tail if instances == 1 else {})}, workdir / "a.log")]
        if instances == 2:
            services.append(Service({**common, **tail}, workdir / "b.log"))
        for service in services:
            stack.callback(service.stop)
        timeout = aiohttp.ClientTimeout(total=None)
        connector = aiohttp.TCPConnector(limit=0)  # every socket holds its connection
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=timeout, connector=connector)
        )
        for service in services:
            await service.ready(http)
        a = services[0]

        body = handoff_body()
        headers = {"Authorization": f"Bearer {api_token}", "Idempotency-Key": uuid.uuid4().hex}
        async with http.post(f"{a.url}/api/v1/handoffs", json=body, headers=headers) as answer:
            if answer.status != 201:
                raise RuntimeError(f"intake: {answer.status} {await answer.text()}")

        before = a.rss_kib()
        ws_url = a.url.replace("http", "ws", 1) + f"/api/v1/ws?token={agent.token}"
        arrivals: dict[int, list[float]] = defaultdict(list)
        listeners: list[asyncio.Task[None]] = []
        stack.callback(lambda: [task.cancel() for task in listeners])
        for first in range(0, agents, CONNECT_BATCH):
            count = min(CONNECT_BATCH, agents - first)
            opened = await asyncio.gather(*(http.ws_connect(ws_url) for _ in range(count)))
            for ws in opened:
                stack.push_async_callback(ws.close)
                hello = await ws.receive_json()
                if hello.get("type") != "hello":
                    raise RuntimeError(f"expected hello, got {hello}")
                # Read from now on: aiohttp answers the service's pings only while reading.
                listeners.append(asyncio.create_task(listen(ws, arrivals)))
        await asyncio.sleep(1.0)
        after = a.rss_kib()
        if dropped := sum(task.done() for task in listeners):
            raise RuntimeError(f"{dropped} sockets closed while connecting; see {workdir}")
        every, last = [], []
        for number in range(samples + 1):  # the first is a warm-up
            event = user_event(
                body["conversation_id"], f"fanout-{number}-{secrets.token_hex(3)}", time.time()
            )
            started = time.perf_counter()
            await asyncio.to_thread(write_rows, broker, [event])
            deadline = time.monotonic() + SAMPLE_TIMEOUT
            while len(arrivals[number]) < agents:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sample {number}: {len(arrivals[number])}/{agents}")
                await asyncio.sleep(0.005)
            if number:
                every += [moment - started for moment in arrivals[number]]
                last.append(max(arrivals[number]) - started)
            await asyncio.sleep(0.2)
    print(
        f"{agents} websockets on instance A, {samples} samples (1 warm-up left out),"
        f" database {database}, {instances} instance(s)"
        + (" (B ingests, Redis fan-out to A)" if instances == 2 else "")
    )
    print(f"{'broker row -> each socket':<28} {summary_ms(every)}")
    print(f"{'broker row -> last socket':<28} {summary_ms(last)}")
    print(
        f"instance A resident memory: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB"
        f" with the sockets: {(after - before) / agents:.1f} KiB per connection"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000, help="websockets (default 1000)")
    parser.add_argument("--samples", type=int, default=30, help="messages (default 30)")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    add_database_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(benchmark(args.agents, args.samples, args.database, args.instances))


if __name__ == "__main__":
    main()
