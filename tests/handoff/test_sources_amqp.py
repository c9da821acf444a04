"""The AMQP event source consumes Rasa's Pika broker: acked after storing, nothing lost."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

from handoff.failures import Rejected
from handoff.ingest.sources import create_source
from handoff.ingest.sources.amqp import AmqpSource
from handoff.live import LocalBroadcaster
from handoff.models import DeadLetter, Message
from handoff.services.sink import EventSink
from harness.handoff_data import bot_event, user_event
from harness.service import eventually

REPO = Path(__file__).resolve().parents[2]
BOT_PYTHON = REPO / ".venv-bot" / "bin" / "python"
BROKER = "amqp://guest:guest@127.0.0.1:5672/"
# Publishes events exactly as Rasa's tracker store does, through Rasa's own PikaEventBroker.
RASA_PIKA_PUBLISHER = """
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.events import Event

async def main():
    exchange, rasa_queue = sys.argv[1:3]
    broker = PikaEventBroker(
        "127.0.0.1", "guest", "guest", queues=[rasa_queue], exchange_name=exchange,
        event_loop=asyncio.get_running_loop(),
    )
    await broker.connect()
    for item in json.load(sys.stdin):
        sender_id = item.pop("sender_id")
        broker.publish({"sender_id": sender_id, **Event.from_parameters(item).as_dict()})
    while broker._background_tasks:
        await asyncio.sleep(0.01)
    await broker.close()

asyncio.run(main())
"""
T0 = 1_795_000_000.0
WAIT = 30  # seconds; only a guard against hanging, never reached when things work


class RecordingSink:
    """A fake `EventSink` that keeps every attempt and every stored batch.

    With `inner` (the real sink) it stores there first. `fail` makes the next attempts raise
    before storing, `lose_answers` after storing (the commit happened, the answer was lost);
    `block` makes a store holding that text hang after storing (a service killed before its
    ack); `on_store` runs after a batch is stored.
    """

    def __init__(self, inner: EventSink | None = None) -> None:
        self.inner = inner
        self.attempts: list[list[dict[str, Any]]] = []
        self.stored: list[dict[str, Any]] = []
        self.fail = 0
        self.lose_answers = 0
        self.block: str | None = None
        self.on_store: Callable[[RecordingSink], None] = lambda sink: None
        self._changed = asyncio.Condition()

    async def store(
        self,
        events: list[dict[str, Any] | Rejected],
        cursor: tuple[str, str] | None = None,
        *,
        source: str,
    ) -> None:
        async with self._changed:
            self.attempts.append(list(events))
            self._changed.notify_all()
        if self.fail:
            self.fail -= 1
            raise OSError("handoff database unavailable")
        if self.inner is not None:
            await self.inner.store(events, cursor, source=source)
        if self.lose_answers:
            self.lose_answers -= 1
            raise OSError("connection lost after the commit")
        if self.block is not None and any(event.get("text") == self.block for event in events):
            await asyncio.Event().wait()
        async with self._changed:
            self.stored.extend(events)
            self._changed.notify_all()
        self.on_store(self)

    async def cursor(self, source: str) -> str | None:
        return None

    async def until(self, done: Callable[[RecordingSink], bool]) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: done(self))

        await asyncio.wait_for(wait(), WAIT)


def texts(events: list[dict[str, Any] | Rejected]) -> list[str]:
    return [event["text"] for event in events if isinstance(event, dict)]


def user_events(*lines: str) -> list[dict[str, Any]]:
    return [user_event("alice", line, T0 + n) for n, line in enumerate(lines)]


@dataclass
class Names:
    exchange: str
    queue: str
    rasa_queue: str

    @property
    def url(self) -> str:
        return f"{BROKER}?exchange={self.exchange}&queue={self.queue}&prefetch=1"


@pytest.fixture(scope="session")
def rabbitmq() -> None:
    """RabbitMQ on 127.0.0.1:5672, started if it is down."""
    if _port_open():
        return
    subprocess.run(["rabbitmq-server", "-detached"], check=True)
    deadline = time.monotonic() + 60
    while not _port_open():
        if time.monotonic() > deadline:
            pytest.fail("RabbitMQ did not start on 127.0.0.1:5672")
        time.sleep(0.5)


def _port_open() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", 5672)) == 0


@pytest.fixture
async def names(rabbitmq) -> AsyncIterator[Names]:
    tag = uuid.uuid4().hex[:10]
    names = Names(f"test-rasa-exchange-{tag}", f"test-handoff-{tag}", f"test-rasa-{tag}")
    yield names
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel()
        for queue in (names.queue, names.rasa_queue):
            await channel.queue_delete(queue)
        await channel.exchange_delete(names.exchange)


async def publish_like_rasa(names: Names, events: list[dict[str, Any]]) -> None:
    """What PikaEventBroker does: non-durable fanout exchange, persistent JSON messages."""
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.FANOUT)
        for event in events:
            body = json.dumps(event).encode()
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await exchange.publish(message, "")


async def rasa_publish(names: Names, events: list[dict[str, Any]]) -> None:
    """Publish with Rasa's own PikaEventBroker, in the bot's environment."""
    if not BOT_PYTHON.exists():
        pytest.skip("needs the bot environment (.venv-bot) for Rasa's PikaEventBroker")
    process = await asyncio.create_subprocess_exec(
        str(BOT_PYTHON),
        "-c",
        RASA_PIKA_PUBLISHER,
        names.exchange,
        names.rasa_queue,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate(json.dumps(events).encode())
    assert process.returncode == 0, stderr.decode()


async def waiting_messages(queue: str) -> int:
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


async def drained(queue: str) -> None:
    """Nothing waits in `queue`, once the broker has settled the acks of a closed consumer (it
    does so after the close returns)."""

    async def empty() -> bool:
        return await waiting_messages(queue) == 0

    await eventually(empty, seconds=10)


@asynccontextmanager
async def running(source: AmqpSource) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.run())
    try:
        yield task
    finally:
        source.stop()
        await asyncio.wait_for(task, WAIT)


async def started(names: Names, sink: RecordingSink) -> AmqpSource:
    """Run a source until its queue is declared and bound (the service's first start), stop it,
    and return a new one (the next start): what is published from now on waits for it."""
    source = AmqpSource.from_url(names.url, sink)
    async with running(source):
        await asyncio.wait_for(source.ready.wait(), WAIT)
    return AmqpSource.from_url(names.url, sink)


async def test_consumes_and_acknowledges_what_rasas_pika_broker_publishes(names):
    sink = RecordingSink()
    await started(names, sink)
    source = create_source("amqp", names.url, sink)
    turn = [
        *user_events("my heater is broken"),
        {"sender_id": "alice", "event": "action", "name": "action_listen"},
        bot_event("alice", "Sorry to hear that.", T0 + 2),
    ]
    await rasa_publish(names, turn)

    async with running(source):
        await sink.until(lambda s: len(s.stored) == 3)

    assert [event["event"] for event in sink.stored] == ["user", "action", "bot"]
    assert sink.stored[0]["message_id"] == turn[0]["message_id"]
    assert sink.stored[0]["sender_id"] == "alice"
    await drained(names.queue)


async def test_a_failed_store_gives_the_event_back_and_it_comes_again(names):
    sink = RecordingSink()
    source = await started(names, sink)
    sink.fail = 1
    await publish_like_rasa(names, user_events("hello"))

    async with running(source):
        await sink.until(lambda s: len(s.stored) == 1)

    assert [texts(batch) for batch in sink.attempts] == [["hello"], ["hello"]]  # redelivered
    assert texts(sink.stored) == ["hello"]
    await drained(names.queue)


async def test_events_published_while_the_service_is_stopped_wait_in_its_queue(names):
    sink = RecordingSink()
    first = await started(names, sink)
    await publish_like_rasa(names, user_events(*(f"line {n}" for n in range(6))))
    sink.on_store = lambda s: first.stop() if len(s.stored) == 3 else None

    async with running(first) as task:
        await asyncio.wait_for(task, WAIT)
    await publish_like_rasa(names, user_events(*(f"line {n}" for n in range(6, 9))))
    sink.on_store = lambda s: None
    async with running(AmqpSource.from_url(names.url, sink)):
        await sink.until(lambda s: len(s.stored) == 9)

    assert texts(sink.stored) == [f"line {n}" for n in range(9)]
    await drained(names.queue)


async def test_a_service_killed_mid_store_gets_the_event_again(names):
    crashed = RecordingSink()
    source = await started(names, crashed)
    await publish_like_rasa(names, user_events("one", "two", "three"))
    crashed.block = "two"

    task = asyncio.create_task(source.run())
    await crashed.until(lambda s: len(s.attempts) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    restarted = RecordingSink()
    async with running(AmqpSource.from_url(names.url, restarted)):
        await restarted.until(lambda s: len(s.stored) == 2)

    assert texts(crashed.stored) == ["one"]
    assert texts(restarted.stored) == ["two", "three"]


async def publish_raw(names: Names, body: bytes) -> None:
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.exchange)
        await exchange.publish(aio_pika.Message(body), "")


async def test_a_message_that_is_not_json_is_handed_over_as_rejected_and_acked(names):
    sink = RecordingSink()
    source = await started(names, sink)
    await publish_raw(names, b"{broken")
    await publish_like_rasa(names, user_events("after"))

    async with running(source):
        await sink.until(lambda s: len(texts(s.stored)) == 1)

    assert texts(sink.stored) == ["after"]
    assert [r.payload for r in sink.stored if isinstance(r, Rejected)] == ["{broken"]
    await drained(names.queue)


def test_exchange_queue_and_prefetch_come_from_the_url():
    source = AmqpSource.from_url(
        "amqp://u:p@mq:5672/vhost?exchange=rasa&queue=handoff-a&prefetch=7&heartbeat=30",
        RecordingSink(),
    )

    assert source.name == "amqp:handoff-a"
    assert (source._url, source._exchange, source._prefetch) == (
        "amqp://u:p@mq:5672/vhost?heartbeat=30",
        "rasa",
        7,
    )


async def close_from_the_server(connection_name: str) -> None:
    """What a RabbitMQ restart or a network cut does to one client connection."""
    listing = await run(
        "rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"
    )
    (pid,) = [
        line.split("\t")[0]
        for line in listing.splitlines()
        if f'{{"connection_name","{connection_name}"}}' in line
    ]
    await run("rabbitmqctl", "-q", "close_connection", pid, "test: connection cut")


async def run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.slow
async def test_a_lost_connection_is_restored_and_consuming_goes_on(names):
    connection_name = f"handoff-{names.queue}"
    url = f"{names.url}&name={connection_name}&reconnect_interval=0.2"
    sink = RecordingSink()
    source = AmqpSource.from_url(url, sink)

    async with running(source):
        await asyncio.wait_for(source.ready.wait(), WAIT)
        await publish_like_rasa(names, user_events("before the cut"))
        await sink.until(lambda s: len(s.stored) == 1)
        await close_from_the_server(connection_name)
        await publish_like_rasa(names, user_events("after the cut"))
        await sink.until(lambda s: len(s.stored) == 2)

    assert texts(sink.stored) == ["before the cut", "after the cut"]
    await drained(names.queue)


# With the real sink, on the handoff store (SQLite and PostgreSQL, from conftest).


async def stored_lines(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Message.author_type, Message.text).order_by(Message.created_at)
        )
        return [(author, text) for author, text in rows]


async def test_an_event_stored_but_not_acknowledged_is_stored_once(names, sessions):
    sink = RecordingSink(EventSink(sessions, LocalBroadcaster()))
    source = await started(names, sink)
    sink.lose_answers = 1
    await publish_like_rasa(names, [*user_events("hello"), bot_event("alice", "Hi!", T0 + 1)])

    async with running(source):
        await sink.until(lambda s: len(s.stored) == 2)

    assert texts(sink.attempts[0]) == texts(sink.attempts[1]) == ["hello"]
    assert await stored_lines(sessions) == [("customer", "hello"), ("bot", "Hi!")]
    await drained(names.queue)


async def test_a_service_killed_before_its_ack_stores_every_line_once(names, sessions):
    crashed = RecordingSink(EventSink(sessions, LocalBroadcaster()))
    source = await started(names, crashed)
    await publish_like_rasa(names, user_events("one", "two", "three"))
    crashed.block = "two"

    task = asyncio.create_task(source.run())
    await crashed.until(lambda s: len(s.attempts) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    restarted = RecordingSink(EventSink(sessions, LocalBroadcaster()))
    async with running(AmqpSource.from_url(names.url, restarted)):
        await restarted.until(lambda s: len(s.stored) == 2)

    assert texts(restarted.stored) == ["two", "three"]  # "two" came twice
    assert await stored_lines(sessions) == [("customer", t) for t in ("one", "two", "three")]


async def test_a_malformed_message_is_dead_lettered_and_acked_and_the_stream_goes_on(
    names, sessions
):
    """On main the sink raised for the malformed event: the batch was requeued forever."""
    sink = RecordingSink(EventSink(sessions, LocalBroadcaster()))
    source = await started(names, sink)
    malformed = {**user_event("alice", "photo", T0 + 1), "metadata": {"attachments": 5}}
    await publish_like_rasa(names, [*user_events("before"), malformed])
    await publish_raw(names, b"not json at all")
    await publish_like_rasa(names, [bot_event("alice", "after", T0 + 2)])

    async with running(source):
        await sink.until(lambda s: "after" in texts(s.stored))

    assert await stored_lines(sessions) == [("customer", "before"), ("bot", "after")]
    async with sessions() as session:
        letters = (await session.scalars(select(DeadLetter).order_by(DeadLetter.id))).all()
    assert [(letter.source, letter.conversation_id) for letter in letters] == [
        (source.name, "alice"),
        (source.name, None),
    ]
    assert letters[0].error.startswith("metadata.attachments:")
    assert letters[1].payload == "not json at all"
    await drained(names.queue)
