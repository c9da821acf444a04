"""Consume Rasa's Pika event broker from a durable queue of our own.

Rasa 3.6's `PikaEventBroker` publishes each event as a persistent message (body: the event's
JSON) to a fanout exchange, `rasa-exchange` by default, declared with aio-pika's defaults
(not durable: we declare it exactly so, or RabbitMQ refuses the second declaration). The
service binds its own durable queue (`handoff-service` by default) to it, so events wait there
while the service is down. The broker keeps only what is routed: list the same queue under the
broker's `queues:` in Rasa's endpoints.yml so Rasa declares and binds it too, and nothing is
published before the binding exists (first start, or after RabbitMQ lost the exchange).

Messages are taken in batches of whatever has already arrived (up to the prefetch count): no
waiting window, so a single event is stored at once, and a burst is stored in few transactions.
A batch is acknowledged only after `EventSink.store` returned, bad messages included (the sink
kept them as dead letters); when the database fails the batch is returned to the queue (nack,
requeue) and the consumer waits with backoff. After a reconnect the broker
redelivers unacknowledged messages; the sink makes that harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from handoff.ingest.sources import EventSink, parse_event
from handoff.periodic import wait_until_set
from outbound.retry import Backoff

logger = logging.getLogger(__name__)

RASA_EXCHANGE = "rasa-exchange"
DEFAULT_QUEUE = "handoff-service"
DEFAULT_PREFETCH = 100


class AmqpSource:
    def __init__(
        self,
        url: str,
        sink: EventSink,
        *,
        exchange: str = RASA_EXCHANGE,
        queue: str = DEFAULT_QUEUE,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> None:
        self.name = f"amqp:{queue}"
        self._url = url
        self._sink = sink
        self._exchange = exchange
        self._queue = queue
        self._prefetch = prefetch
        self._buffer: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._stopping = asyncio.Event()
        # Set once the queue is declared, bound and consumed: from then on nothing is missed.
        self.ready = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, sink: EventSink) -> AmqpSource:
        """Read `exchange`, `queue` and `prefetch` from the URL's query; aio-pika gets the rest."""
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        exchange = params.pop("exchange", RASA_EXCHANGE)
        queue = params.pop("queue", DEFAULT_QUEUE)
        prefetch = int(params.pop("prefetch", DEFAULT_PREFETCH))
        broker_url = urlunsplit(parts._replace(query=urlencode(params)))
        return cls(broker_url, sink, exchange=exchange, queue=queue, prefetch=prefetch)

    def stop(self) -> None:
        self._stopping.set()
        self._buffer.put_nowait(None)  # wakes the consumer if it waits for a message

    async def run(self) -> None:
        connection = await self._open()
        if connection is None:
            return
        try:
            await self._consume()
        finally:
            # Messages still unacknowledged go back to the queue when the channel closes.
            await connection.close()

    async def _open(self) -> AbstractRobustConnection | None:
        """Connect, declare, bind and start consuming; retried until it works or we stop.

        `connect_robust` then restores all of it after a lost connection.
        """
        backoff = Backoff()
        while not self._stopping.is_set():
            connection: AbstractRobustConnection | None = None
            try:
                connection = await aio_pika.connect_robust(self._url)
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=self._prefetch)
                exchange = await channel.declare_exchange(
                    self._exchange, aio_pika.ExchangeType.FANOUT
                )
                queue = await channel.declare_queue(self._queue, durable=True)
                await queue.bind(exchange)
                await queue.consume(self._buffer.put)
                self.ready.set()
                logger.info("Event source %s: consuming from %s", self.name, self._exchange)
                return connection
            except Exception as exc:
                if connection is not None:
                    await connection.close()
                level = backoff.log_level
                delay = backoff.next_delay()
                logger.log(
                    level,
                    "Event source %s: cannot consume (%s); retrying in %.1f s",
                    self.name,
                    exc,
                    delay,
                    exc_info=not isinstance(exc, AMQPError | OSError),
                )
                await wait_until_set(self._stopping, delay)
        return None

    async def _consume(self) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            messages = await self._next_batch()
            if not messages:
                continue
            events = [parse_event(message.body) for message in messages]
            try:
                await self._sink.store(events, source=self.name)
            except Exception as exc:
                for message in messages:
                    await _settle(message.nack(requeue=True))
                delay = backoff.next_delay()
                logger.warning(
                    "Event source %s: storing %d events failed (%s); returned them to the"
                    " queue, retrying in %.1f s",
                    self.name,
                    len(events),
                    exc,
                    delay,
                    exc_info=True,
                )
                await wait_until_set(self._stopping, delay)
                continue
            backoff.reset()
            for message in messages:
                await _settle(message.ack())

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        """The next message and all that arrived with it; empty once `stop()` was called."""
        batch: list[AbstractIncomingMessage] = []
        message = await self._buffer.get()
        while message is not None:
            batch.append(message)
            if len(batch) >= self._prefetch or self._buffer.empty():
                break
            message = self._buffer.get_nowait()
        return batch


async def _settle(outcome: Awaitable[None]) -> None:
    """Await an ack/nack/reject; one on a channel lost meanwhile is moot: RabbitMQ redelivers."""
    try:
        await outcome
    except (AMQPError, ChannelInvalidStateError) as exc:
        logger.info("Message settlement skipped, the broker redelivers it: %s", exc)
