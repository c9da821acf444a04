"""Handoff outbox, client and relay against a real local intake service (docs/handoff-intake.md)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from actions.clients.handoff_intake import (
    INTAKE_PATH,
    EntryStatus,
    HandoffClient,
    HandoffOutbox,
    HandoffSettings,
    OutboxRelay,
    Outcome,
    RetrySchedule,
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


async def test_a_request_the_service_keeps_failing_does_not_block_the_ones_behind_it(
    service, outbox_path, relay_for
) -> None:
    """On main the relay retried the oldest pending request first: every later handoff waited."""
    service.failing = {"chokes"}
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    stuck = await outbox.enqueue(request_body("chokes"))
    behind = [await outbox.enqueue(request_body(f"c{i}")) for i in range(3)]
    await wait_until(lambda: _stored(service, *behind))
    await wait_until(lambda: _attempts_at_least(outbox, stuck, 3))  # still retried, with backoff

    assert (await outbox.get(stuck)).status is EntryStatus.PENDING
    service.failing = set()  # the service is fixed: the request goes, with its key, once
    await wait_until(lambda: drained(outbox))
    assert list(service.stored) == [*behind, stuck]


async def _stored(service: IntakeService, *keys: str) -> bool:
    return all(key in service.stored for key in keys)


async def test_a_conversations_later_request_waits_behind_its_failing_one(
    service, outbox_path, relay_for
) -> None:
    service.failing = {"c1"}
    outbox = HandoffOutbox(outbox_path)
    relay_for(outbox, service.settings(outbox_path))

    first = await outbox.enqueue(request_body("c1"))
    second = await outbox.enqueue(request_body("c1"))
    other = await outbox.enqueue(request_body("c2"))
    await wait_until(lambda: _stored(service, other))
    await wait_until(lambda: _attempts_at_least(outbox, first, 2))
    assert second not in service.attempts
    service.failing = set()
    await wait_until(lambda: drained(outbox))

    assert list(service.stored) == [other, first, second]


async def outbox_cli(outbox_path: Path, *args: str) -> tuple[int, str]:
    """Run `python -m actions.clients.outbox_cli` on the outbox file; (exit code, stdout)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "actions.clients.outbox_cli",
        *args,
        env={**os.environ, "HANDOFF_OUTBOX_PATH": str(outbox_path)},
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    return process.returncode or 0, stdout.decode()


async def test_a_set_aside_request_is_listed_and_can_be_requeued_with_its_key(
    service, outbox_path, relay_for
) -> None:
    outbox = HandoffOutbox(outbox_path)
    relay = relay_for(outbox, service.settings(outbox_path))
    bad = await outbox.enqueue(request_body("malformed"))
    await wait_until(lambda: drained(outbox))

    code, listed = await outbox_cli(outbox_path, "list", "--status", "failed")
    assert code == 0
    assert listed.split()[:4] == [bad, "failed", "1", "malformed"] and "400" in listed
    assert (await outbox_cli(outbox_path, "requeue", "no-such-key"))[0] == 1
    await relay.stop()
    assert (await outbox_cli(outbox_path, "requeue", bad))[0] == 0
    assert [entry.key for entry in await outbox.pending()] == [bad]
    relay_for(outbox, service.settings(outbox_path))
    await wait_until(lambda: _attempts_at_least(outbox, bad, 2))

    assert service.attempts == [bad, bad] and (await outbox.get(bad)).status is EntryStatus.FAILED


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retry_schedule_backs_off_per_request_and_for_the_service() -> None:
    clock = Clock()
    schedule = RetrySchedule(base=1.0, maximum=8.0, clock=clock)

    assert [schedule.request_failed("a") for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert schedule.request_wait("a") == 8.0 and schedule.request_wait("b") == 0.0
    assert schedule.request_failed("b", retry_after=3.0) == 3.0
    assert schedule.request_failed("b", retry_after=300.0) == 8.0  # never beyond the maximum
    clock.now += 5
    assert (schedule.request_wait("a"), schedule.request_wait("b")) == (3.0, 3.0)
    assert [schedule.service_failed() for _ in range(3)] == [1.0, 2.0, 4.0]
    assert schedule.service_wait() == 4.0
    schedule.settled("a")  # a delivery: the service is back, "a" starts afresh
    assert (schedule.service_wait(), schedule.request_wait("a")) == (0.0, 0.0)
    assert schedule.request_failed("a") == 1.0
    schedule.service_failed()
    schedule.request_failed("b")  # the service answered: no longer a service-wide pause
    assert schedule.service_wait() == 0.0


@pytest.mark.parametrize(
    ("status", "service_wide"), [(500, False), (409, False), (503, True), (429, True), (401, True)]
)
async def test_a_retry_is_for_the_request_or_for_the_whole_service(status, service_wide) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"error": "x"}, status=status)

    app = web.Application()
    app.router.add_post(INTAKE_PATH, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = HandoffClient(HandoffSettings(url=f"http://127.0.0.1:{port}"))
    try:
        result = await client.deliver("k", request_body())
    finally:
        await client.close()
        await runner.cleanup()

    assert (result.outcome, result.service_wide) == (Outcome.RETRY, service_wide)
    down = HandoffClient(HandoffSettings(url=f"http://127.0.0.1:{port}"))
    try:
        assert (await down.deliver("k", request_body())).service_wide
    finally:
        await down.close()
