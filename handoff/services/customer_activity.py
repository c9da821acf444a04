"""Whether the customer is in the chat (`POST /api/v1/customer-activity`): online, typing, left.

Presence is ephemeral, so it is held in memory, never stored. A report that is news is
published as a `customer.activity` live event, and every instance applies the events the live
fan-out brings it (handoff/live.py, Redis with several instances), so each one knows what any
of them was told. What an instance missed (it started later, Redis was down) it learns from the
customer's next report. Reports are fire and forget and may cross on the way: the newest `at`
wins and an older one is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.activity import ACTIVITY_STATES, CustomerActivity
from contracts.errors import ContractError
from contracts.values import parse_time
from handoff import views
from handoff.errors import from_contract
from handoff.live import Broadcaster, Event
from handoff.repositories import Conversations

logger = logging.getLogger(__name__)

EVENT = "customer.activity"
MAX_KEPT = 50_000  # conversations held; the one reported on longest ago is forgotten first


@dataclass(frozen=True)
class Activity:
    state: str  # one of contracts.activity.ACTIVITY_STATES
    at: datetime

    def view(self) -> views.JSON:
        return {"state": self.state, "at": views.iso(self.at)}


def activity_event(conversation_pk: str, activity: Activity) -> Event:
    """The live event; `conversation_id` is this service's id of the conversation."""
    return {"type": EVENT, "conversation_id": conversation_pk, "customer_activity": activity.view()}


class CustomerActivityService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        max_kept: int = MAX_KEPT,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.max_kept = max_kept
        self._known: OrderedDict[str, Activity] = OrderedDict()

    async def report(self, body: Any) -> bool:
        """Apply a connector's report and publish it; False when it was not news (the
        conversation is not known here, or a newer report came first). 400 for a missing field,
        422 for a wrong value (the contract's checks)."""
        try:
            report = CustomerActivity.from_json(body)
        except ContractError as error:
            raise from_contract(error) from None
        async with self.sessions() as session:
            conversation_pk = await Conversations(session).id_of(report.conversation_id)
        activity = Activity(report.state, report.at)
        if conversation_pk is None or not self._apply(conversation_pk, activity):
            return False
        await self.live.publish(activity_event(conversation_pk, activity))
        return True

    def of(self, conversation_pk: str) -> views.JSON | None:
        """`{"state", "at"}` as last reported, None when nothing was (since this instance
        started)."""
        activity = self._known.get(conversation_pk)
        return activity.view() if activity else None

    async def follow(self) -> None:
        """Apply the `customer.activity` events of every instance; subscribe again if dropped."""
        while True:
            subscription = self.live.subscribe()
            try:
                async for event in subscription:
                    if event.get("type") == EVENT:
                        self._apply_event(event)
            finally:
                subscription.close()
            await asyncio.sleep(0.1)

    def _apply_event(self, event: Event) -> None:
        try:
            conversation_pk = str(event["conversation_id"])
            state, at = event["customer_activity"]["state"], event["customer_activity"]["at"]
            if state not in ACTIVITY_STATES:
                raise ValueError(f"unknown state {state!r}")
            self._apply(conversation_pk, Activity(state, parse_time(at)))
        except (KeyError, TypeError, ValueError) as error:
            logger.warning("ignoring a malformed %s event: %s", EVENT, error)

    def _apply(self, conversation_pk: str, activity: Activity) -> bool:
        """Keep `activity` unless what is known is newer; whether anything changed."""
        known = self._known.get(conversation_pk)
        if known is not None and (known.at > activity.at or known == activity):
            return False
        self._known[conversation_pk] = activity
        self._known.move_to_end(conversation_pk)
        if len(self._known) > self.max_kept:
            self._known.popitem(last=False)
        return True
