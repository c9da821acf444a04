"""Web chat frames between Rasa processes (several servers, several Sanic workers each).

A customer's tab is connected to one process, but what it must show can start in any other: an
agent's line posted to another server's ``/deliver``, or the bot's replies to a message sent
before the tab reconnected elsewhere. `FrameRelay` carries each frame through Redis pub/sub,
on one channel per conversation; a process subscribes to a conversation's channel while it has
a tab of it open, so a frame reaches exactly the processes that show it, and ``PUBLISH`` tells
how many did. Pub/sub keeps nothing: a process that is not listening (Redis down, a reconnect)
misses live frames, and its tabs get them from the history (the tracker store) when they
reconnect, as they always have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Hands a frame (JSON text) from another process to this process's tabs of a conversation.
Deliver = Callable[[str, str], Awaitable[int]]

RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


class FrameRelay:
    """Redis pub/sub between the web chat channels of several processes (see the module doc)."""

    def __init__(self, url: str, prefix: str = "webchat:") -> None:
        self.origin = ""  # this process's id, set by `start`
        self._url = url
        self._prefix = prefix
        self._watched: set[str] = set()
        self._redis: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while subscribed (tests wait for it)

    def _channel(self, conversation_id: str) -> str:
        return f"{self._prefix}{conversation_id}"

    async def start(self, deliver: Deliver) -> None:
        """Connect and listen; `deliver` gets every frame another process publishes.

        Called in each Sanic worker once it runs: the channel is built before the workers fork,
        and each of them needs an id of its own to tell its frames from its siblings'."""
        self.origin = uuid.uuid4().hex
        self._redis = aioredis.from_url(self._url)
        self._listener = asyncio.create_task(self._listen(deliver), name="webchat-relay")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.close()

    async def watch(self, conversation_id: str) -> None:
        """This process has a tab of the conversation open: receive its frames."""
        self._watched.add(conversation_id)
        if self._pubsub is not None:
            with _logged("subscribe"):
                await self._pubsub.subscribe(self._channel(conversation_id))

    async def unwatch(self, conversation_id: str) -> None:
        self._watched.discard(conversation_id)
        if self._pubsub is not None:
            with _logged("unsubscribe"):
                await self._pubsub.unsubscribe(self._channel(conversation_id))

    async def other_processes_watching(self, conversation_id: str) -> int:
        """How many other processes hold a tab of the conversation (0 when Redis cannot say)."""
        if self._redis is None:
            return 0
        try:
            [(_, listeners)] = await self._redis.pubsub_numsub(self._channel(conversation_id))
        except RedisError as error:
            logger.warning("web chat relay: who watches %s unknown: %s", conversation_id, error)
            return 0
        here = conversation_id in self._watched and self._pubsub is not None
        return max(0, int(listeners) - here)

    async def publish(self, conversation_id: str, text: str) -> int:
        """Send a frame to the other processes; how many of them show this conversation."""
        if self._redis is None:
            return 0
        message = json.dumps({"origin": self.origin, "frame": text})
        try:
            listeners = await self._redis.publish(self._channel(conversation_id), message)
        except RedisError as error:
            logger.warning("web chat relay: frame for %s kept local: %s", conversation_id, error)
            return 0
        return int(listeners) - (conversation_id in self._watched)

    async def _listen(self, deliver: Deliver) -> None:
        """Subscribe (again, after a lost connection) to every watched conversation and hand the
        other processes' frames to `deliver`, in the order Redis received them."""
        assert self._redis is not None
        failures = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                # A channel of its own keeps the connection subscribed while no tab is open.
                await pubsub.subscribe(f"{self._prefix}process:{self.origin}")
                if self._watched:
                    await pubsub.subscribe(*map(self._channel, self._watched))
                self._pubsub = pubsub
                self.listening.set()
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        await self._hand_over(message, deliver)
            except (RedisError, OSError) as error:
                self._pubsub = None
                self.listening.clear()
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                logger.warning("web chat relay: Redis lost (%s); again in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.reset()

    async def _hand_over(self, message: dict[str, object], deliver: Deliver) -> None:
        try:
            body = json.loads(message["data"])  # type: ignore[arg-type]
            if body["origin"] == self.origin:
                return
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            await deliver(name.removeprefix(self._prefix), body["frame"])
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("web chat relay: ignoring a malformed message: %s", error)


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    """A failed (un)subscribe is retried by the listener's reconnect; never fail the caller."""
    try:
        yield
    except (RedisError, OSError) as error:
        logger.warning("web chat relay: %s failed: %s", what, error)
