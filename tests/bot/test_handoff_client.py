"""Handoff outbox, client and relay against a real local intake service (docs/handoff-intake.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from actions.clients.handoff_intake import (
    EntryStatus,
    HandoffClient,
    HandoffOutbox,
    HandoffSettings,
    OutboxRelay,
    Outcome,
    classify,
)
from tests.intake_service import IntakeService

WAIT_SECONDS = 10.0  # generous upper bound for background delivery; tests normally take ms
POLL_SECONDS = 0.01


def request_body(conversation_id: str = "c1") -> dict[str, Any]:
    return {"conversation_id": conversation_id, "transcript": [{"author_type": "customer"}]}


async def wait_until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll the SQLite file until `condition` holds (it changes in the relay's background task)."""
    for _ in range(int(WAIT_SECONDS / POLL_SECONDS)):
        if await condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"not reached within {WAIT_SECONDS} s")


@pytest.fixture
async def service() -> AsyncIterator[IntakeService]:
    intake = IntakeService()
    await intake.start()
    yield intake
    await intake.stop()


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "outbox.sqlite3"


@pytest.fixture
async def relay_for() -> AsyncIterator[Callable[[HandoffOutbox, HandoffSettings], OutboxRelay]]:
    relays: list[OutboxRelay] = []

    def make(outbox: HandoffOutbox, settings: HandoffSettings) -> OutboxRelay:
        relay = OutboxRelay(outbox, HandoffClient(settings), backoff_base=0.01, backoff_max=0.05)
        relays.append(relay)
        relay.start()
        return relay

    yield make
    for relay in relays:
        await relay.stop()


async def drained(outbox: HandoffOutbox) -> bool:
    return not await outbox.pending()


async def test_enqueue_is_durable_before_it_returns(outbox_path: Path) -> None:
    key = await HandoffOutbox(outbox_path).enqueue(request_body())

    pending = await HandoffOutbox(outbox_path).pending()  # another process's view of the file
    assert [(entry.key, entry.body) for entry in pending] == [(key, request_body())]


async def test_service_up_delivers_once(service, outbox_path, relay_for) -> None:
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    key = await outbox.enqueue(request_body())
    await wait_until(lambda: drained(outbox))

    assert service.stored == {key: request_body()}
    assert service.attempts == [key]
    assert (await outbox.get(key)).status is EntryStatus.DELIVERED


async def test_service_down_then_up_delivers_after_it_returns(
    service, outbox_path, relay_for
) -> None:
    port = service.port
    await service.stop()
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    key = await outbox.enqueue(request_body())
    await wait_until(lambda: _attempts_at_least(outbox, key, 2))
    await service.start(port=port)
    await wait_until(lambda: drained(outbox))

    assert list(service.stored) == [key]
    entry = await outbox.get(key)
    assert entry.status is EntryStatus.DELIVERED
    assert entry.attempts >= 2


async def _attempts_at_least(outbox: HandoffOutbox, key: str, attempts: int) -> bool:
    entry = await outbox.get(key)
    return entry is not None and entry.attempts >= attempts


async def test_lost_acknowledgement_is_retried_with_the_same_key(
    service, outbox_path, relay_for
) -> None:
    service.lose_acks = 1
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    key = await outbox.enqueue(request_body())
    await wait_until(lambda: drained(outbox))

    assert service.attempts == [key, key]
    assert list(service.stored) == [key]


async def test_a_new_relay_on_the_same_file_delivers_what_was_left(
    service, outbox_path, relay_for
) -> None:
    settings = service.settings(outbox_path)
    old_outbox = HandoffOutbox(outbox_path)
    old_relay = OutboxRelay(old_outbox, HandoffClient(HandoffSettings(url="http://127.0.0.1:9")))
    old_relay.start()
    keys = [await old_outbox.enqueue(request_body(f"c{i}")) for i in range(3)]
    await old_relay.stop()  # the action server restarts with nothing delivered

    new_outbox = HandoffOutbox(outbox_path)
    relay_for(new_outbox, settings)
    await wait_until(lambda: drained(new_outbox))

    assert list(service.stored) == keys  # same keys, enqueue order
    assert [body["conversation_id"] for body in service.stored.values()] == ["c0", "c1", "c2"]


async def test_bad_request_is_kept_as_failed_and_does_not_block_the_queue(
    service, outbox_path, relay_for, caplog
) -> None:
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    bad = await outbox.enqueue(request_body("malformed"))
    good = await outbox.enqueue(request_body("c2"))
    await wait_until(lambda: drained(outbox))

    failed = await outbox.failed()
    assert [entry.key for entry in failed] == [bad]
    assert "HTTP 400" in failed[0].last_error
    assert service.attempts == [bad, good]
    assert list(service.stored) == [good]
    assert any(r.levelname == "ERROR" and bad in r.getMessage() for r in caplog.records)


async def test_concurrent_enqueues_send_each_entry_once_one_at_a_time(
    service, outbox_path, relay_for
) -> None:
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    keys = await asyncio.gather(*(outbox.enqueue(request_body(f"c{i}")) for i in range(10)))
    await wait_until(lambda: drained(outbox))

    assert sorted(service.attempts) == sorted(keys)
    assert service.max_in_flight == 1


async def test_wrong_token_is_retried_until_fixed(service, outbox_path, relay_for) -> None:
    outbox = HandoffOutbox(outbox_path)
    wrong = HandoffSettings(url=service.settings(outbox_path).url, api_token="stale")
    relay = relay_for(outbox, wrong)

    key = await outbox.enqueue(request_body())
    await wait_until(lambda: _attempts_at_least(outbox, key, 2))
    await relay.stop()
    relay_for(outbox, service.settings(outbox_path))
    await wait_until(lambda: drained(outbox))

    assert list(service.stored) == [key]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, Outcome.DELIVERED),
        (200, Outcome.DELIVERED),
        (400, Outcome.FAILED),
        (413, Outcome.FAILED),
        (422, Outcome.FAILED),
        (401, Outcome.RETRY),
        (408, Outcome.RETRY),
        (409, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
    ],
)
def test_classify(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome
