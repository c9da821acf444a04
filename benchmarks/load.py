"""Load and spike test of the whole product through its real webhooks.

`.venv-bot/bin/python -m benchmarks.load [--topology scaled|embedded|both] [--rate 0.5]
[--baseline 20] [--spike-factor 100] [--spike-seconds 3] [--mix whatsapp=4,messenger=3,webchat=3]
[--handoff-share 0.2] [--sanic-workers 1] [--chaos]`

Starts the topology (benchmarks/load_topology.py: `make run-scaled`'s script on throwaway
databases, or `make run`'s on temporary SQLite files) with the Graph API pointed at the channel
simulator's stand-in in a thread of this process. New conversations start at `--rate` per second
for `--baseline` seconds, at `--spike-factor` times that for `--spike-seconds`, then at the
baseline rate again for `--baseline` seconds. Each conversation is a customer on one channel of
the mix: WhatsApp and Messenger customers post signed webhook bodies (tools/simulator/payloads.py)
and their replies are the Send API requests the stand-in gets; web chat customers write on the
widget's websocket. A customer sends a message, waits for the bot's first reply (the turn's
end-to-end latency), lets the rest of the turn arrive, then sends the next. `--handoff-share` of
them ask for a person and write once more to the agent.

Prints webhook answer times, end-to-end latency percentiles and turns per second per phase, the
turns waiting for their first reply over time (the queue's growth and drain), the machine's load,
then checks the invariants in the handoff store (benchmarks/load_invariants.py) and exits 1 if
one does not hold. Times are figures, never asserted. `--chaos` (scaled only) kills servers
during the load and reports how long each took to answer again (benchmarks/load_chaos.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks import load_chaos, summary_ms
from benchmarks.connectors_turn import Arrivals, GraphApiThread, show_logs
from benchmarks.load_invariants import SETTLE_SECONDS, check
from benchmarks.load_topology import Topology, start
from connectors.common.signature import sign_meta_payload
from harness.stack import CHANNEL_SECRETS
from tools.simulator import payloads

BOT_SCRIPTS = (
    ("hi", "how do I reset my password"),
    ("hello", "where do I find my invoices"),
    ("hi there", "when is support open"),
    ("hey", "how do I add a new device to the app"),
)
HANDOFF_REQUEST = "agent please"
HANDOFF_SCRIPT = ("hi", HANDOFF_REQUEST, "I will wait here for the person, thanks")
QUIET_SECONDS = 1.0  # no further reply for this long: the turn is over
CHANNELS = ("whatsapp", "messenger", "webchat")


@dataclass
class Phase:
    name: str
    seconds: float
    rate: float  # new conversations per second


@dataclass
class Results:
    """Everything measured, by phase (the phase the conversation started in)."""

    started: float = field(default_factory=time.perf_counter)
    webhook: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    webhook_errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    turns_done: list[tuple[str, float]] = field(default_factory=list)  # phase, when
    unanswered: int = 0
    unacknowledged: int = 0  # web chat messages the channel never echoed (the widget keeps them)
    waiting: int = 0  # turns sent, first reply not yet there
    timeline: list[tuple[float, int]] = field(default_factory=list)
    sent: dict[str, list[str]] = field(default_factory=dict)  # conversation -> texts
    handoffs: list[str] = field(default_factory=list)


class Customer:
    """One conversation on one channel: `send` posts a message, replies are noted in
    `arrivals` under (channel, conversation id)."""

    def __init__(self, channel: str, base: str, http: aiohttp.ClientSession) -> None:
        self.channel, self.base, self.http = channel, base, http
        if channel == "whatsapp":
            self.id = f"4478{secrets.randbelow(10**9):09d}"
            self.wa = payloads.WhatsAppCustomer(
                wa_id=self.id, phone_number_id=CHANNEL_SECRETS["WHATSAPP_PHONE_NUMBER_ID"]
            )
        elif channel == "messenger":
            self.id = f"{secrets.randbelow(10**16):016d}"
            self.fb = payloads.MessengerCustomer(psid=self.id)
        else:
            self.id = str(uuid.uuid4())
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.unacked: dict[str, asyncio.Event] = {}  # web chat: client_id -> echoed

    async def open(self, stack: AsyncExitStack, arrivals: Arrivals) -> None:
        if self.channel != "webchat":
            return
        url = f"{self.base}/webhooks/webchat/ws?session={self.id}&lang=en"
        self.ws = await stack.enter_async_context(self.http.ws_connect(url))
        reader = asyncio.create_task(self._read(arrivals))
        stack.callback(reader.cancel)

    async def _read(self, arrivals: Arrivals) -> None:
        assert self.ws is not None
        async for message in self.ws:
            frame = json.loads(message.data)
            if frame.get("type") != "message":
                continue
            if frame.get("author_type") == "bot":
                arrivals.note("webchat", self.id)
            elif frame.get("author_type") == "customer" and frame.get("id") in self.unacked:
                self.unacked[frame["id"]].set()

    async def acknowledged(self, seconds: float) -> bool:
        """Whether every message sent was acknowledged: a web chat message once the channel
        echoes it (until then the widget keeps it in its outbox and sends it again on the next
        visit, so a customer leaving the page first is not counted as a loss); a webhook's 200
        already was."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(echoed.wait() for echoed in self.unacked.values())), seconds
            )
        except asyncio.TimeoutError:
            return False
        return True

    async def send(self, text: str, results: Results, phase: str) -> None:
        if self.ws is not None:
            client_id = uuid.uuid4().hex
            self.unacked[client_id] = asyncio.Event()
            await self.ws.send_json({"type": "message", "text": text, "client_id": client_id})
            return
        if self.channel == "whatsapp":
            body = payloads.whatsapp_text(self.wa, text)
        else:
            body = payloads.messenger_text(self.fb, text)
        raw = json.dumps(body).encode()
        secret = CHANNEL_SECRETS[f"{self.channel.upper()}_APP_SECRET"]
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_meta_payload(raw, secret),
        }
        url = f"{self.base}/webhooks/{self.channel}/webhook"
        began = time.perf_counter()
        async with self.http.post(url, data=raw, headers=headers) as answer:
            results.webhook[phase].append(time.perf_counter() - began)
            if answer.status != 200:
                results.webhook_errors[answer.status] += 1
                raise RuntimeError(f"{self.channel} webhook answered {answer.status}")


async def converse(
    customer: Customer,
    script: tuple[str, ...],
    phase: str,
    results: Results,
    arrivals: Arrivals,
    turn_timeout: float,
) -> None:
    """The customer's messages, one turn after the other; the last one of a handoff script
    goes to the agent (the bot is paused), so no reply is awaited."""
    async with AsyncExitStack() as stack:
        await customer.open(stack, arrivals)
        sent = results.sent.setdefault(customer.id, [])
        for number, text in enumerate(script):
            before = arrivals.count(customer.channel, customer.id)
            began = time.perf_counter()
            await customer.send(text, results, phase)
            sent.append(text)
            if text == HANDOFF_REQUEST:
                results.handoffs.append(customer.id)
            if script is HANDOFF_SCRIPT and number == len(script) - 1:
                if not await customer.acknowledged(turn_timeout):
                    results.unacknowledged += 1
                return
            results.waiting += 1
            try:
                at = await arrivals.nth(customer.channel, customer.id, before + 1, turn_timeout)
            except asyncio.TimeoutError:
                results.unanswered += 1
                return
            finally:
                results.waiting -= 1
            results.latency[phase].append(at - began)
            results.turns_done.append((phase, time.perf_counter()))
            await _quiet(arrivals, customer)


async def _quiet(arrivals: Arrivals, customer: Customer) -> None:
    """Until no reply has come for QUIET_SECONDS (bounded)."""
    for _ in range(30):
        count = arrivals.count(customer.channel, customer.id)
        await asyncio.sleep(QUIET_SECONDS)
        if arrivals.count(customer.channel, customer.id) == count:
            return


async def drive(
    phases: list[Phase],
    mix: dict[str, int],
    handoff_share: float,
    base: str,
    arrivals: Arrivals,
    results: Results,
    turn_timeout: float,
) -> None:
    """Start conversations on the schedule, sample the waiting turns every second, and wait
    for every conversation to end."""
    rng = random.Random(11)
    channels = [channel for channel, weight in mix.items() for _ in range(weight)]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=turn_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        tasks: list[asyncio.Task[None]] = []
        sampler = asyncio.create_task(_sample(results))
        for phase in phases:
            count = round(phase.seconds * phase.rate)
            for _ in range(count):
                customer = Customer(rng.choice(channels), base, http)
                handoff = rng.random() < handoff_share
                script = HANDOFF_SCRIPT if handoff else rng.choice(BOT_SCRIPTS)
                task = converse(customer, script, phase.name, results, arrivals, turn_timeout)
                tasks.append(asyncio.create_task(task))
                await asyncio.sleep(phase.seconds / count)
            if count == 0:
                await asyncio.sleep(phase.seconds)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        sampler.cancel()
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        print(f"{len(failures)} conversations failed, e.g. {failures[0]!r}", file=sys.stderr)


async def _sample(results: Results) -> None:
    while True:
        results.timeline.append((time.perf_counter() - results.started, results.waiting))
        await asyncio.sleep(1.0)


def turns_per_second(results: Results, phase: str) -> float | None:
    """Turns finished in the phase over the time between its first and last."""
    done = [at for which, at in results.turns_done if which == phase]
    span = (max(done) - min(done)) if len(done) > 1 else 0.0
    return len(done) / span if span else None


def report(phases: list[Phase], results: Results, topology: Topology, load: list[str]) -> None:
    print(f"topology: {topology.kind}; machine load average {' -> '.join(load)}")
    for phase in phases:
        name = phase.name
        done = sum(1 for which, _ in results.turns_done if which == name)
        per_second = turns_per_second(results, name)
        rate = f"{per_second:.1f} turns/s" if per_second else "-"
        print(
            f"{name:<9} {phase.rate:g} conversations/s for {phase.seconds:g} s:"
            f" {done} turns, {rate}"
        )
        if results.webhook[name]:
            print(f"  webhook answer   {summary_ms(results.webhook[name])}")
        if results.latency[name]:
            print(f"  first reply      {summary_ms(results.latency[name])}")
    errors = dict(results.webhook_errors) or "none"
    print(
        f"webhook answers other than 200: {errors}; turns without a reply: {results.unanswered};"
        f" web chat messages never acknowledged: {results.unacknowledged}"
    )
    windows: dict[int, int] = defaultdict(int)
    for at, waiting in results.timeline:
        windows[int(at // 5) * 5] = max(windows[int(at // 5) * 5], waiting)
    print("turns waiting for their first reply (max per 5 s):")
    print("  " + " ".join(f"{start}s:{waiting}" for start, waiting in sorted(windows.items())))


def parse_mix(raw: str) -> dict[str, int]:
    mix = {}
    for part in raw.split(","):
        channel, _, weight = part.partition("=")
        if channel not in CHANNELS or not weight.isdigit():
            raise argparse.ArgumentTypeError(f"--mix {part!r}: expected <channel>=<weight>")
        mix[channel] = int(weight)
    return mix


async def benchmark(args: argparse.Namespace, kind: str, workdir: Path) -> tuple[Results, bool]:
    """The run's results on the `kind` topology, and whether every invariant held."""
    arrivals = Arrivals(asyncio.get_running_loop())
    phases = [
        Phase("baseline", args.baseline, args.rate),
        Phase("spike", args.spike_seconds, args.rate * args.spike_factor),
        Phase("after", args.baseline, args.rate),
    ]
    load = [f"{os.getloadavg()[0]:.1f}"]
    with GraphApiThread(arrivals) as graph_url:
        topology = await asyncio.to_thread(start, kind, graph_url, workdir, args.sanic_workers)
        try:
            load.append(f"{os.getloadavg()[0]:.1f} (servers up)")
            results = Results()
            chaos = None
            if args.chaos:
                chaos = asyncio.create_task(
                    load_chaos.run(args.chaos_after, args.chaos_every, results.started)
                )
            await drive(
                phases, args.mix, args.handoff_share, topology.public_url, arrivals, results,
                args.turn_timeout,
            )  # fmt: skip
            load.append(f"{os.getloadavg()[0]:.1f} (load over)")
            report(phases, results, topology, load)
            if chaos is not None:
                print(load_chaos.report(await chaos))
            findings = await asyncio.to_thread(
                check, topology.store_url, results.sent, results.handoffs, SETTLE_SECONDS
            )
            print(findings.report())
            return results, findings.ok
        except BaseException:
            show_logs(topology.logs)
            raise
        finally:
            await asyncio.to_thread(topology.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--topology",
        choices=("scaled", "embedded", "both"),
        default="scaled",
        help="both: the same load on embedded, then on scaled, with turns/s side by side",
    )
    parser.add_argument("--rate", type=float, default=0.5, help="new conversations per second")
    parser.add_argument("--baseline", type=float, default=20.0, help="seconds before and after")
    parser.add_argument("--spike-factor", type=float, default=100.0)
    parser.add_argument("--spike-seconds", type=float, default=3.0)
    parser.add_argument(
        "--mix", type=parse_mix, default=parse_mix("whatsapp=4,messenger=3,webchat=3")
    )
    parser.add_argument("--handoff-share", type=float, default=0.2)
    parser.add_argument("--sanic-workers", type=int, default=1, help="per Rasa server (scaled)")
    parser.add_argument("--turn-timeout", type=float, default=300.0, help="seconds, a guard only")
    parser.add_argument("--chaos", action="store_true", help="kill -9 servers in turn (scaled)")
    parser.add_argument("--chaos-after", type=float, default=5.0, help="seconds to the first")
    parser.add_argument("--chaos-every", type=float, default=15.0, help="seconds between kills")
    args = parser.parse_args()
    if args.chaos and args.topology != "scaled":
        parser.error("--chaos needs --topology scaled (run-scaled.sh restarts what is killed)")
    kinds = ("embedded", "scaled") if args.topology == "both" else (args.topology,)
    runs: dict[str, tuple[Results, bool]] = {}
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="load-bench-") as directory:
            runs[kind] = asyncio.run(benchmark(args, kind, Path(directory)))
    if len(runs) > 1:
        print_side_by_side({kind: results for kind, (results, _) in runs.items()})
    sys.exit(0 if all(ok for _, ok in runs.values()) else 1)


def print_side_by_side(runs: dict[str, Results]) -> None:
    print("turns/s side by side (scaled / embedded):")
    for phase in ("baseline", "spike", "after"):
        rates = {kind: turns_per_second(results, phase) for kind, results in runs.items()}
        shown = ", ".join(
            f"{kind} {rate:.1f}" if rate else f"{kind} -" for kind, rate in rates.items()
        )
        embedded, scaled = rates.get("embedded"), rates.get("scaled")
        ratio = f"{scaled / embedded:.2f}x" if embedded and scaled else "-"
        print(f"  {phase:<9} {shown}: {ratio}")


if __name__ == "__main__":
    main()
