"""Open websocket connections per conversation: every tab of a customer gets every line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Socket(Protocol):
    async def send(self, message: str) -> None: ...


class ConnectionHub:
    """Fans frames out to the open connections of a conversation, in this process.

    Also tracks how many bot turns are running per conversation, so a tab opened during a turn
    shows the typing indicator too.
    """

    def __init__(self) -> None:
        self._sockets: defaultdict[str, set[Socket]] = defaultdict(set)
        self._turns: Counter[str] = Counter()

    def add(self, conversation_id: str, socket: Socket) -> None:
        self._sockets[conversation_id].add(socket)

    def remove(self, conversation_id: str, socket: Socket) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self._sockets[conversation_id]

    def is_busy(self, conversation_id: str) -> bool:
        return self._turns[conversation_id] > 0

    def turn_started(self, conversation_id: str) -> None:
        self._turns[conversation_id] += 1

    def turn_finished(self, conversation_id: str) -> None:
        self._turns[conversation_id] -= 1
        if self._turns[conversation_id] <= 0:
            del self._turns[conversation_id]

    async def send(self, conversation_id: str, frame: dict[str, Any]) -> int:
        """Send to every open connection; returns how many got it (closed ones are dropped)."""
        sockets = list(self._sockets.get(conversation_id, ()))
        if not sockets:
            return 0
        text = json.dumps(frame)
        results = await asyncio.gather(
            *(socket.send(text) for socket in sockets), return_exceptions=True
        )
        sent = 0
        for socket, result in zip(sockets, results, strict=True):
            if isinstance(result, BaseException):
                logger.info("Dropping a closed web chat connection: %s", result)
                self.remove(conversation_id, socket)
            else:
                sent += 1
        return sent
