"""Open websocket connections per conversation: every tab of a customer gets every line."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from typing import Any, Protocol

from connectors.common.activity_report import ActivityReporter
from connectors.webchat.relay import FrameRelay
from contracts.activity import LEFT, ONLINE, TYPING

logger = logging.getLogger(__name__)

# A tab says "typing" at most every few seconds while the customer types; more often than this
# (a widget of another make, a loop) is not passed on to the handoff service.
TYPING_REPEAT_SECONDS = 2.0


class Socket(Protocol):
    async def send(self, message: str) -> None: ...


class ConnectionHub:
    """Fans frames out to the open connections of a conversation: in this process, and with a
    `FrameRelay` in every other Rasa process that has a tab of the conversation open.

    Also tracks how many bot turns are running per conversation, so a tab opened during a turn
    shows the typing indicator too, and tells `activity` (when set) whether the customer is
    here: `online` when their first tab connects, `typing` and back to `online` as the widget
    says, `left` when their last tab, in any process, closes.
    """

    def __init__(
        self, relay: FrameRelay | None = None, activity: ActivityReporter | None = None
    ) -> None:
        self.relay = relay
        self.activity = activity
        self._sockets: defaultdict[str, set[Socket]] = defaultdict(set)
        self._turns: Counter[str] = Counter()
        self._typing_reported: dict[str, float] = {}  # conversation -> when (monotonic)

    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start(self.send_here)

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.close()

    async def add(self, conversation_id: str, socket: Socket) -> None:
        first = conversation_id not in self._sockets
        self._sockets[conversation_id].add(socket)
        if first:
            self._report(conversation_id, ONLINE)
            if self.relay is not None:
                await self.relay.watch(conversation_id)

    async def remove(self, conversation_id: str, socket: Socket) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if sockets:
            return
        del self._sockets[conversation_id]
        self._typing_reported.pop(conversation_id, None)
        if self.relay is None:
            self._report(conversation_id, LEFT)
            return
        elsewhere = 0
        if self.activity is not None:
            elsewhere = await self.relay.other_processes_watching(conversation_id)
            if conversation_id in self._sockets:
                return  # a tab came back meanwhile (a reload): still watched, still here
        await self.relay.unwatch(conversation_id)
        if not elsewhere:
            self._report(conversation_id, LEFT)

    def customer_typing(self, conversation_id: str, on: bool) -> None:
        """A tab says the customer types (`on`) or stopped."""
        if not on:
            if self._typing_reported.pop(conversation_id, None) is not None:
                self._report(conversation_id, ONLINE)
            return
        now = time.monotonic()
        last = self._typing_reported.get(conversation_id)
        if last is not None and now - last < TYPING_REPEAT_SECONDS:
            return
        self._typing_reported[conversation_id] = now
        self._report(conversation_id, TYPING)

    def _report(self, conversation_id: str, state: str) -> None:
        if self.activity is not None:
            self.activity.report(conversation_id, state)

    def is_busy(self, conversation_id: str) -> bool:
        return self._turns[conversation_id] > 0

    def turn_started(self, conversation_id: str) -> None:
        self._turns[conversation_id] += 1

    def turn_finished(self, conversation_id: str) -> None:
        self._turns[conversation_id] -= 1
        if self._turns[conversation_id] <= 0:
            del self._turns[conversation_id]

    async def send(self, conversation_id: str, frame: dict[str, Any]) -> int:
        """Send to every open connection, here and through the relay; returns how many
        connections here got it plus how many other processes show the conversation (0: no tab
        is open anywhere)."""
        text = json.dumps(frame)
        sent = await self.send_here(conversation_id, text)
        if self.relay is not None:
            sent += await self.relay.publish(conversation_id, text)
        return sent

    async def send_here(self, conversation_id: str, text: str) -> int:
        """Send to this process's open connections (closed ones are dropped); how many got it."""
        sockets = list(self._sockets.get(conversation_id, ()))
        if not sockets:
            return 0
        results = await asyncio.gather(
            *(socket.send(text) for socket in sockets), return_exceptions=True
        )
        sent = 0
        for socket, result in zip(sockets, results, strict=True):
            if isinstance(result, BaseException):
                logger.info("Dropping a closed web chat connection: %s", result)
                await self.remove(conversation_id, socket)
            else:
                sent += 1
        return sent
