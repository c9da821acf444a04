"""Live events for the agents' websockets.

`Broadcaster` is the seam the services publish through. `LocalBroadcaster` fans out within one
process (the embedded default). `RedisBroadcaster` (LIVE_REDIS_URL) serves several instances:
it hands an event to this instance's subscribers at once and publishes it on a Redis pub/sub
channel, in the order published, for the other instances, whose subscribers get it from there.
Pub/sub keeps nothing for an instance that is not listening: while Redis is unreachable events
stay local, and once the subscription is back every subscriber gets `{"type": "resync"}` so
clients fetch what they missed by their per-conversation `seq` cursor
(`GET /api/v1/conversations/{id}/messages?after_seq=`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from outbound.retry import Backoff

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class Broadcaster(Protocol):
    def subscribe(self) -> Subscription: ...

    async def publish(self, event: Event) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _QueueSubscription:
    def __init__(self, owner: LocalBroadcaster, size: int) -> None:
        self._owner = owner
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event

    def close(self) -> None:
        self._owner.unsubscribe(self)


class LocalBroadcaster:
    """Fan-out to every subscriber of this process; a subscriber too slow to keep up is dropped."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[_QueueSubscription] = set()

    def subscribe(self) -> _QueueSubscription:
        subscription = _QueueSubscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: _QueueSubscription) -> None:
        self._subscribers.discard(subscription)

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to disconnect from."""

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("dropping a websocket subscriber that fell behind")
                self.unsubscribe(subscription)
                subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)


class RedisBroadcaster:
    """Fan-out across instances through the Redis pub/sub `channel` (see the module docstring).

    Publishing never waits for Redis: events go to a bounded outbox that one task publishes in
    order (when Redis is down the oldest are dropped with a warning; clients resync). Each
    message carries this instance's id, so an instance skips its own events coming back.
    """

    def __init__(
        self, url: str, channel: str, queue_size: int = 1000, outbox_size: int = 10_000
    ) -> None:
        self.origin = uuid.uuid4().hex
        self._url = url
        self._channel = channel
        self._local = LocalBroadcaster(queue_size)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(outbox_size)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()  # set while subscribed to the channel

    @property
    def subscribers(self) -> int:
        return self._local.subscribers

    def subscribe(self) -> _QueueSubscription:
        return self._local.subscribe()

    async def publish(self, event: Event) -> None:
        self._local.deliver(event)
        message = json.dumps({"origin": self.origin, "event": event}).encode()
        if self._outbox.full():
            logger.warning("live fan-out: Redis is behind; dropping the oldest unsent event")
            self._outbox.get_nowait()
        self._outbox.put_nowait(message)

    async def start(self) -> None:
        self._redis = aioredis.from_url(self._url)
        self._tasks = [
            asyncio.create_task(self._send_outbox(), name="live-publish"),
            asyncio.create_task(self._listen(), name="live-subscribe"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()

    async def _send_outbox(self) -> None:
        backoff = Backoff(initial=0.1, maximum=5.0)
        while True:
            message = await self._outbox.get()
            while True:
                try:
                    await self._redis.publish(self._channel, message)
                    backoff.reset()
                    break
                except (RedisError, OSError) as error:
                    level = backoff.log_level
                    logger.log(level, "live fan-out: publishing to Redis failed: %s", error)
                    await asyncio.sleep(backoff.next_delay())

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.1, maximum=5.0)
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.listening.set()
                    if backoff.failures:
                        logger.info("live fan-out: subscribed to Redis again")
                        self._local.deliver({"type": "resync"})
                    backoff.reset()
                    async for message in pubsub.listen():
                        self._receive(message)
            except (RedisError, OSError) as error:
                self.listening.clear()
                level = backoff.log_level
                logger.log(level, "live fan-out: lost the Redis subscription: %s", error)
                await asyncio.sleep(backoff.next_delay())

    def _receive(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        try:
            envelope = json.loads(message["data"])
            origin, event = envelope["origin"], envelope["event"]
        except (ValueError, KeyError, TypeError):
            logger.warning("live fan-out: ignoring a malformed message on %s", self._channel)
            return
        if origin != self.origin:
            self._local.deliver(event)


def broadcaster(redis_url: str | None, channel: str) -> LocalBroadcaster | RedisBroadcaster:
    """The fan-out for the settings: in-process unless LIVE_REDIS_URL is set."""
    return RedisBroadcaster(redis_url, channel) if redis_url else LocalBroadcaster()
