"""Rasa's SQL tracker store, without reading the conversation a second time on every save.

`SQLTrackerStore.save` first streams the new events to the event broker, and to find them it
retrieves the stored tracker again: every event of the session is read, JSON-decoded and
replayed, on every turn, after the turn already did the same to load the tracker. A turn then
costs more the longer the conversation is (py-spy, a paused conversation of a few hundred
events: that second retrieve was about a quarter of the customer's turn). The new events are
the tracker's events past those stored, which the store's own count query gives
(`_additional_events`, the same offset Rasa's diff takes from the retrieved tracker's length).
`save` then runs that count once more to find the rows to insert: two small queries, kept so
that Rasa's own insert code stays Rasa's, instead of one read of the whole session.

Configured in `bot/endpoints.yml` and `bot/endpoints-scaled.yml` as
`type: bot.tracker_store.CountingSQLTrackerStore`, with the SQL store's own settings.
"""

from __future__ import annotations

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker


class CountingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose broker stream finds the new events by counting the stored ones."""

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
