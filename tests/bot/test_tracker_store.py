"""The tracker store `bot/endpoints.yml` configures: Rasa's SQL store, and the event broker gets
every new event once, in order, exactly as from Rasa's own `SQLTrackerStore`.

Real SQLite tracker stores and Rasa's SQL event broker on temporary files, built by Rasa's own
factories from the shipped endpoints files.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import class_from_module_path
from rasa.utils.endpoints import read_endpoint_config

from bot.tracker_store import CountingSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.from_yaml("slots:\n  topic:\n    type: text\n    mappings: [{type: custom}]\n")


async def configured_stores(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[TrackerStore, Path, Path]:
    """The tracker store and event broker of `bot/endpoints.yml`, on files in `tmp_path`:
    (store, tracker database, broker database)."""
    tracker_db, events_db = tmp_path / "tracker.db", tmp_path / "events.db"
    monkeypatch.setenv("RASA_TRACKER_DB", str(tracker_db))
    monkeypatch.setenv("RASA_EVENTS_DB", str(events_db))
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    endpoints = str(ROOT / "bot" / "endpoints.yml")
    broker = await EventBroker.create(read_endpoint_config(endpoints, "event_broker"))
    config = read_endpoint_config(endpoints, "tracker_store")
    return TrackerStore.create(config, DOMAIN, broker), tracker_db, events_db


def broker_events(events_db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(events_db) as conn:
        return [json.loads(data) for (data,) in conn.execute("SELECT data FROM events ORDER BY id")]


def turns() -> list[list[Event]]:
    """What three turns and a new session add to a conversation, turn by turn."""
    return [
        [SessionStarted(1.0), ActionExecuted("action_listen", timestamp=1.1)],
        [UserUttered("my hub is offline", timestamp=2.0), SlotSet("topic", "technical", 2.1)],
        [BotUttered("Which hub?", timestamp=3.0), ActionExecuted("action_listen", timestamp=3.1)],
        [],  # a save with nothing new
        [SessionStarted(4.0), UserUttered("still offline", timestamp=4.1)],
        [BotUttered("Sorry about that.", timestamp=5.0)],
    ]


async def replay(store: TrackerStore, sender: str) -> None:
    for added in turns():
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for event in added:
            tracker.update(event)
        await store.save(tracker)


async def test_the_embedded_endpoints_load_the_counting_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store, tracker_db, _ = await configured_stores(monkeypatch, tmp_path)

    assert isinstance(store, CountingSQLTrackerStore)  # not Rasa's in-memory fallback
    await replay(store, "ada")
    assert tracker_db.exists()


def test_the_scaled_endpoints_name_the_same_store(monkeypatch: pytest.MonkeyPatch) -> None:
    scaled = ROOT / "bot" / "endpoints-scaled.yml"
    for name in re.findall(r"\$\{(\w+)\}", scaled.read_text()):  # scripts/run-scaled.sh sets them
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    config = read_endpoint_config(str(scaled), "tracker_store")

    assert config is not None
    assert class_from_module_path(config.type) is CountingSQLTrackerStore
    assert config.kwargs["dialect"] == "postgresql"


async def test_the_broker_gets_every_new_event_once_in_order_as_from_rasas_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store, _, events_db = await configured_stores(monkeypatch, tmp_path)
    stock_events = tmp_path / "stock-events.db"
    stock = SQLTrackerStore(
        DOMAIN,
        dialect="sqlite",
        db=str(tmp_path / "stock-tracker.db"),
        event_broker=SQLEventBroker(db=str(stock_events)),
    )

    await replay(store, "ada")
    await replay(stock, "ada")

    published = broker_events(events_db)
    expected = [event.as_dict() for added in turns() for event in added]
    assert [(e["event"], e["timestamp"]) for e in published] == [
        (e["event"], e["timestamp"]) for e in expected
    ]
    assert published == broker_events(stock_events)
    stored = await store.retrieve("ada")
    assert isinstance(stored, DialogueStateTracker)
    assert [e.as_dict() for e in stored.events] == [
        e.as_dict()
        for e in (await stock.retrieve("ada")).events  # type: ignore[union-attr]
    ]
