"""The inbox of accepted messages: nothing acknowledged is lost when a process dies mid-turn."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from connectors.common.inbox import MAX_ATTEMPTS, Inbox

BODY = {"text": "hi", "display_text": "hi", "lang": "en"}


async def test_a_message_is_accepted_once(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite", "webchat")
    assert await inbox.accept("c1", "m1", BODY)
    assert not await inbox.accept("c1", "m1", BODY)  # the widget's re-send
    assert await Inbox(tmp_path / "state.sqlite", "whatsapp").accept("c1", "m1", BODY)


async def test_a_turn_still_in_its_lease_is_not_taken(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite", "webchat", lease_seconds=60)
    await inbox.accept("c1", "m1", BODY)
    assert await inbox.take_due() == []


async def test_a_message_whose_turn_died_is_taken_once_in_order(tmp_path: Path) -> None:
    dead = Inbox(tmp_path / "state.sqlite", "webchat", lease_seconds=0)
    for message_id in ("m1", "m2", "m3"):
        await dead.accept("c1", message_id, {**BODY, "text": message_id})
    await dead.finish("c1", "m2")
    survivor = Inbox(tmp_path / "state.sqlite", "webchat", lease_seconds=60)
    due = await survivor.take_due()
    assert [(p.conversation_id, p.message_id, p.body["text"]) for p in due] == [
        ("c1", "m1", "m1"),
        ("c1", "m3", "m3"),
    ]
    assert await survivor.take_due() == []  # leased to the survivor now


async def test_a_message_that_keeps_failing_is_given_up(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite", "webchat", lease_seconds=0)
    await inbox.accept("c1", "m1", BODY)
    taken = [len(await inbox.take_due()) for _ in range(MAX_ATTEMPTS + 1)]
    assert taken == [1] * (MAX_ATTEMPTS - 1) + [0, 0]


async def test_concurrent_retries_let_exactly_one_through(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    results = await asyncio.gather(
        *(Inbox(path, "whatsapp").accept("15550001", "wamid.same", BODY) for _ in range(8))
    )
    assert results.count(True) == 1


async def test_a_batch_is_accepted_at_once_and_tells_the_new_ones(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state.sqlite", "messenger")
    await inbox.accept("psid-1", "mid.1", BODY)
    batch = [("psid-1", "mid.1", BODY), ("psid-1", "mid.2", BODY), ("psid-2", "mid.3", BODY)]
    assert await inbox.accept_all(batch) == {"mid.2", "mid.3"}


async def test_a_finished_message_keeps_only_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    inbox = Inbox(path, "webchat")
    await inbox.accept("c1", "m1", BODY)
    await inbox.finish("c1", "m1")
    rows = sqlite3.connect(path).execute("SELECT conversation_id, message_id, body FROM inbox")
    assert rows.fetchall() == [("c1", "m1", "{}")]
    assert not await inbox.accept("c1", "m1", BODY)  # still a duplicate
