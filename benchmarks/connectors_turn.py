"""A full bot turn through each channel connector, next to Rasa's own REST channel.

`.venv-bot/bin/python -m benchmarks.connectors_turn [--turns 50]`

Starts the action server and a Rasa server with the trained model (models/care.tar.gz) the
way the end-to-end tests do (harness/stack.py), with the channel simulator's Graph API
stand-in in a thread of this process. The same FAQ questions go through every channel; each
turn is timed from the customer's message to the turn's last reply reaching the customer:

- `rest`: `POST /webhooks/rest/webhook` until its response;
- `whatsapp`, `messenger`: a webhook body as Meta sends it, signed with the app secret, until
  the stand-in received the connector's Send API request carrying the turn's last reply;
- `webchat`: a `message` frame on the widget's websocket until the turn's last bot `message`
  frame.

How many replies a turn has is learned from the REST channel during the warm-up. Each channel
keeps one conversation for the run (opened with "hi" in the warm-up, so no measured turn starts
a session); the channels take turns, in a rotating order, so they share the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks import summary_ms
from connectors.common.signature import sign_meta_payload
from harness.processes import free_port
from harness.stack import CHANNEL_SECRETS, MODEL, action_server, rasa_server, rules_file
from tools.simulator import payloads
from tools.simulator.graph_api import (
    MESSENGER_SEND_PATH,
    WHATSAPP_MESSAGES_PATH,
    GraphApiStandIn,
)
from tools.simulator.outbox import sent_message

CHANNELS = ("rest", "whatsapp", "messenger", "webchat")
QUESTIONS = (
    "how do I reset my password",
    "where do I find my invoices",
    "how do I add a new device to the app",
    "i got a new router, how do i reconnect the hub",
    "when is support open",
)
GREETING = "hi"
TURN_TIMEOUT = 60.0  # seconds; only a guard against a reply that never comes
NOWHERE = "http://127.0.0.1:9"  # no handoff service: FAQ turns never hand off
GRAPH_VERSION = "v21.0"

Measure = Callable[[str], Awaitable[float]]


class BenchmarkError(RuntimeError):
    """A channel answered something other than what the benchmark expects."""


class Arrivals:
    """When the bot's messages reached the Graph API stand-in, per (channel, customer).

    Noted in the stand-in's thread (the clock is read there), handed to the benchmark's loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._changed = asyncio.Event()

    def note(self, channel: str, recipient: str) -> None:
        at = time.perf_counter()
        self._loop.call_soon_threadsafe(self._add, (channel, recipient), at)

    def _add(self, key: tuple[str, str], at: float) -> None:
        self._times[key].append(at)
        self._changed.set()

    def count(self, channel: str, recipient: str) -> int:
        return len(self._times[(channel, recipient)])

    async def nth(
        self, channel: str, recipient: str, n: int, timeout: float = TURN_TIMEOUT
    ) -> float:
        """When the n-th message (1-based) to this customer arrived; waits for it."""

        async def arrived() -> float:
            times = self._times[(channel, recipient)]
            while len(times) < n:
                self._changed.clear()
                await self._changed.wait()
            return times[n - 1]

        return await asyncio.wait_for(arrived(), timeout)


class GraphApiThread:
    """The simulator's Graph API stand-in, on its own event loop in a thread."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self.stand_in = GraphApiStandIn(
            access_token=CHANNEL_SECRETS["WHATSAPP_ACCESS_TOKEN"],
            other_access_tokens=[CHANNEL_SECRETS["MESSENGER_PAGE_ACCESS_TOKEN"]],
        )
        self.stand_in.routes = [  # Messenger's path first: WhatsApp's pattern matches it too
            ("POST", MESSENGER_SEND_PATH, self._noting(self.stand_in.messenger_send)),
            ("POST", WHATSAPP_MESSAGES_PATH, self._noting(self.stand_in.whatsapp_messages)),
        ]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _noting(
        self, handler: Callable[[web.Request, Any], Awaitable[dict[str, Any]]]
    ) -> Callable[[web.Request, Any], Awaitable[dict[str, Any]]]:
        async def route(request: web.Request, body: Any) -> dict[str, Any]:
            message = sent_message({"path": request.path, "body": body})
            if message is not None:  # not a sender action such as typing_on
                self.arrivals.note(message.channel, message.recipient)
            return await handler(request, body)

        return route

    def __enter__(self) -> str:
        """Starts serving; the Graph API URL the connectors are given."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.stand_in.start(), self._loop).result(10)
        return f"{self.stand_in.url}/{GRAPH_VERSION}"

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.stand_in.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def start_bot(
    stack: AsyncExitStack,
    workdir: Path,
    graph_url: str = NOWHERE,
    handoff_url: str = NOWHERE,
    model: Path = MODEL,
) -> str:
    """The action server (team open around the clock) and the Rasa server, stopped when
    `stack` closes; the Rasa server's URL."""
    if not await asyncio.to_thread(model.exists):
        raise BenchmarkError(f"{model} is missing: run `make train` first.")
    action_port, rasa_port = free_port(), free_port()
    rules = rules_file(workdir / "welcome.yml", open_now=True)
    for process in (
        action_server(action_port, workdir, handoff_url, rules),
        rasa_server(rasa_port, action_port, workdir, model, graph_url),
    ):
        stack.callback(process.stop)
        await asyncio.to_thread(process.start)
    return f"http://127.0.0.1:{rasa_port}"


class WebChatCustomer:
    """A customer on the web chat widget's websocket (connectors/webchat/frames.py)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id

    @classmethod
    async def connect(
        cls, stack: AsyncExitStack, http: aiohttp.ClientSession, rasa_url: str
    ) -> WebChatCustomer:
        session_id = str(uuid.uuid4())
        url = f"{rasa_url}/webhooks/webchat/ws?session={session_id}&lang=en"
        ws = await stack.enter_async_context(http.ws_connect(url))
        history = await asyncio.wait_for(ws.receive_json(), TURN_TIMEOUT)
        if history.get("type") != "history":
            raise BenchmarkError(f"web chat: expected the history frame, got {history}")
        return cls(ws, session_id)

    async def drain(self) -> None:
        """Reads and drops every frame (a client that stops reading would slow the server)."""
        async for _ in self.ws:
            pass

    async def send(self, text: str) -> None:
        await self.ws.send_json({"type": "message", "text": text, "client_id": uuid.uuid4().hex})

    async def bot_lines(self, count: int) -> float:
        """When the `count`-th bot message frame from now arrived."""

        async def arrived() -> float:
            seen = 0
            while seen < count:
                frame = await self.ws.receive_json()
                if frame.get("type") == "message" and frame.get("author_type") == "bot":
                    seen += 1
                elif frame.get("type") == "error":
                    raise BenchmarkError(f"web chat: {frame}")
            return time.perf_counter()

        return await asyncio.wait_for(arrived(), TURN_TIMEOUT)


class Channels:
    """One conversation per channel; `measure[channel](text)` times one turn in seconds."""

    def __init__(
        self, http: aiohttp.ClientSession, rasa_url: str, arrivals: Arrivals, web: WebChatCustomer
    ) -> None:
        self.http = http
        self.rasa_url = rasa_url
        self.arrivals = arrivals
        self.web = web
        self.rest_sender = f"bench-rest-{secrets.token_hex(6)}"
        self.whatsapp = payloads.WhatsAppCustomer(
            wa_id=f"4477{secrets.randbelow(10**8):08d}",
            phone_number_id=CHANNEL_SECRETS["WHATSAPP_PHONE_NUMBER_ID"],
        )
        self.messenger = payloads.MessengerCustomer(psid=f"{secrets.randbelow(10**16):016d}")
        self.replies: dict[str, int] = {}  # text -> replies per turn, from the REST channel
        self.expected_total = 0  # replies each customer should have had so far
        self.measure: dict[str, Measure] = {
            "rest": self.rest,
            "whatsapp": self.whatsapp_turn,
            "messenger": self.messenger_turn,
            "webchat": self.webchat_turn,
        }

    async def rest(self, text: str) -> float:
        body = {"sender": self.rest_sender, "message": text}
        started = time.perf_counter()
        async with self.http.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body) as answer:
            answer.raise_for_status()
            replies = await answer.json()
        elapsed = time.perf_counter() - started
        expected = self.replies.setdefault(text, len(replies))
        if len(replies) != expected or not replies:
            raise BenchmarkError(f"rest: {len(replies)} replies to {text!r}, {expected} before")
        return elapsed

    async def whatsapp_turn(self, text: str) -> float:
        payload = payloads.whatsapp_text(self.whatsapp, text)
        return await self._meta_turn("whatsapp", self.whatsapp.wa_id, payload, text)

    async def messenger_turn(self, text: str) -> float:
        payload = payloads.messenger_text(self.messenger, text)
        return await self._meta_turn("messenger", self.messenger.psid, payload, text)

    async def _meta_turn(
        self, channel: str, customer: str, payload: dict[str, Any], text: str
    ) -> float:
        raw = json.dumps(payload).encode()
        secret = CHANNEL_SECRETS[f"{channel.upper()}_APP_SECRET"]
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_meta_payload(raw, secret),
        }
        last = self.arrivals.count(channel, customer) + self.replies[text]
        started = time.perf_counter()
        url = f"{self.rasa_url}/webhooks/{channel}/webhook"
        async with self.http.post(url, data=raw, headers=headers) as answer:
            if answer.status != 200:
                raise BenchmarkError(f"{channel}: webhook answered {answer.status}")
        return await self.arrivals.nth(channel, customer, last) - started

    async def webchat_turn(self, text: str) -> float:
        started = time.perf_counter()
        await self.web.send(text)
        return await self.web.bot_lines(self.replies[text]) - started

    async def check_nothing_extra(self) -> None:
        """More replies than REST gave would have ended later turns early: refuse the figures."""
        await asyncio.sleep(1.0)
        for channel, customer in (
            ("whatsapp", self.whatsapp.wa_id),
            ("messenger", self.messenger.psid),
        ):
            if self.arrivals.count(channel, customer) != self.expected_total:
                raise BenchmarkError(
                    f"{channel}: {self.arrivals.count(channel, customer)} replies arrived,"
                    f" the REST channel gave {self.expected_total} for the same messages"
                )


async def run_turns(channels: Channels, texts: list[str], warm_up: bool) -> dict[str, list[float]]:
    """Each text through every channel, REST first while warming up (it learns the number of
    replies per text), else in an order rotating with the turn."""
    seconds: dict[str, list[float]] = {channel: [] for channel in CHANNELS}
    for number, text in enumerate(texts):
        shift = number % len(CHANNELS)
        order = CHANNELS if warm_up else CHANNELS[shift:] + CHANNELS[:shift]
        if warm_up:
            await channels.rest(text)
        for channel in order:
            if warm_up and channel == "rest":
                continue
            seconds[channel].append(await channels.measure[channel](text))
        channels.expected_total += channels.replies[text]
    return seconds


def report(turns: int, seconds: dict[str, list[float]]) -> None:
    rest = statistics.median(seconds["rest"])
    print(f"{turns} turns per channel (warm-up left out), one conversation per channel")
    for channel in CHANNELS:
        ratio = statistics.median(seconds[channel]) / rest
        print(f"{channel:<10} {summary_ms(seconds[channel])}  median/REST {ratio:.2f}")


async def benchmark(turns: int, workdir: Path) -> dict[str, list[float]]:
    arrivals = Arrivals(asyncio.get_running_loop())
    async with AsyncExitStack() as stack:
        graph_url = stack.enter_context(GraphApiThread(arrivals))
        rasa_url = await start_bot(stack, workdir, graph_url=graph_url)
        timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
        web_customer = await WebChatCustomer.connect(stack, http, rasa_url)
        channels = Channels(http, rasa_url, arrivals, web_customer)
        await run_turns(channels, [GREETING, *QUESTIONS], warm_up=True)
        texts = [QUESTIONS[number % len(QUESTIONS)] for number in range(turns)]
        seconds = await run_turns(channels, texts, warm_up=False)
        await channels.check_nothing_extra()
    report(turns, seconds)
    return seconds


def show_logs(workdir: Path, lines: int = 30) -> None:
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.name}", *tail, sep="\n", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50, help="measured turns per channel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="connectors-bench-") as directory:
        try:
            asyncio.run(benchmark(args.turns, Path(directory)))
        except (BenchmarkError, AssertionError, asyncio.TimeoutError):
            show_logs(Path(directory))
            raise


if __name__ == "__main__":
    main()
