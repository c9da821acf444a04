"""Live events for the agents' websockets.

`Broadcaster` is the seam: this in-process fan-out serves one instance; a Redis pub/sub
implementation with the same two methods can replace it when several instances run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class Broadcaster(Protocol):
    def subscribe(self) -> Subscription: ...

    async def publish(self, event: Event) -> None: ...


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

    async def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("dropping a websocket subscriber that fell behind")
                self.unsubscribe(subscription)
                subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)
