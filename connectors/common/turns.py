"""A customer message's bot turn, and running again the turns a dead process left unfinished.

A channel hands each accepted message to Rasa (`OnNewMessage`). A message sits in the channel's
`Inbox` from the moment it is acknowledged to the moment its turn ends; `Replayer` runs, in
every process, a loop that takes the messages whose lease ran out and hands them to the channel
again. Replayed turns go through `unless_stored`: a turn that stored the message in the tracker
and died before the inbox heard of it is not run twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

from connectors.common.inbox import Inbox, Pending

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
REPLAY_SECONDS = 10.0  # how often a process looks for accepted messages whose turn died


async def tracker_events(app: Any, sender_id: str) -> list[dict[str, Any]]:
    """Every event of the conversation, all sessions, as Rasa serialises them."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return []
    tracker = await agent.tracker_store.retrieve_full_tracker(sender_id)
    return [] if tracker is None else [event.as_dict() for event in tracker.events]


async def stored_message_ids(app: Any, sender_id: str) -> set[str]:
    """The channel message ids of the sender's user events, every session."""
    return {
        str(event["message_id"])
        for event in await tracker_events(app, sender_id)
        if event.get("event") == "user" and event.get("message_id")
    }


def unless_stored(app: Any, on_new_message: OnNewMessage) -> OnNewMessage:
    """`on_new_message` for a replayed message: skipped if the tracker already has it."""

    async def handle(message: UserMessage) -> None:
        if message.message_id in await stored_message_ids(app, message.sender_id):
            logger.info("Message %s was stored before its process died", message.message_id)
            return
        await on_new_message(message)

    return handle


class Replayer:
    """The replay loop of one channel in one process (started and stopped with the server)."""

    def __init__(self, inbox: Inbox, service: str) -> None:
        self.inbox = inbox
        self.service = service
        self._task: asyncio.Task[None] | None = None

    def start(self, replay: Callable[[Pending], Awaitable[None]]) -> None:
        self._task = asyncio.create_task(self._forever(replay))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _forever(self, replay: Callable[[Pending], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(min(REPLAY_SECONDS, self.inbox.lease_seconds))
            try:
                due = await self.inbox.take_due()
            except Exception:
                logger.exception("%s: the inbox could not be read; trying again", self.service)
                continue
            for pending in due:
                logger.warning(
                    "%s: message %s of %s was accepted but its turn never finished; running it",
                    self.service,
                    pending.message_id,
                    pending.conversation_id,
                )
                try:
                    await replay(pending)
                except Exception:  # one message's failure never holds up the others
                    logger.exception("%s: replaying %s failed", self.service, pending.message_id)
