"""Erasing one customer: the supervisor's API and CLI, the bot side called first (a local server
speaking its contract, `connectors/erasure/`), the handoff store after, the audit record, and
durable retries with a lease. The real bot side is exercised in tests/e2e/test_erasure.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import subprocess
import sys
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from sqlalchemy import select

from handoff.app import create_app
from handoff.models import ErasureAudit
from handoff.roles import Role
from handoff.services.erasure import ErasureService, Requester, run_erasure_retries
from handoff.settings import REPO_ROOT, Settings, SettingsError
from harness.handoff_data import make_agent
from harness.service import ApiClient, serving
from tests.handoff.servers import fake_server
from tests.handoff.transcripts import count_rows, store_transcript

TOKEN = "test-erasure-token"
BOT_COUNTS = {"tracker_store": 12, "event_broker": 12, "outbox": 1, "connector_state": {}}
ERASED = (200, {"counts": BOT_COUNTS})
EMPTY = {
    "conversations": 0,
    "messages": 0,
    "notes": 0,
    "assignments": 0,
    "intake_requests": 0,
}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def service_with(settings):
    async def start(url: str, stack: AsyncExitStack, token: str = TOKEN) -> ApiClient:
        app = create_app(replace(settings, delivery_url=url, erasure_token=token))
        base = await stack.enter_async_context(serving(app))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        return ApiClient(http, base)

    return start


async def audit_rows(sessions):
    async with sessions() as session:
        return (await session.scalars(select(ErasureAudit))).all()


async def test_a_supervisor_erases_a_customer_everywhere_with_an_audit_record(
    sessions, service_with
):
    ana = await store_transcript(sessions, NOW)
    ben = await store_transcript(sessions, NOW)
    boss = await make_agent(sessions, role=Role.SUPERVISOR)
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(fake_server([ERASED]))
        api = await service_with(bot.url, stack)
        answer = await api.post(
            "/api/v1/erasures", json={"conversation_id": ana.pk}, token=boss.token
        )

    assert answer.status == 200, answer.body
    [call] = bot.requests
    assert (call.path, call.headers["Authorization"]) == (
        "/webhooks/erasure/erase",
        f"Bearer {TOKEN}",
    )
    assert call.body["sender_id"] == ana.sender_id
    assert set(ana.message_ids) | {"m-1", "wamid.A1"} == set(call.body["message_ids"])
    assert await count_rows(sessions, ana.pk) == EMPTY
    assert (await count_rows(sessions, ben.pk))["messages"] == 3

    record = answer.body
    assert record["status"] == "done" and record["attempts"] == 1
    assert (record["requested_by"], record["requested_by_agent_id"]) == (boss.email, boss.id)
    expected = hmac.new(TOKEN.encode(), ana.sender_id.encode(), hashlib.sha256).hexdigest()
    assert record["customer_key_hash"] == expected
    assert record["counts"] == {
        "handoff_store": {
            "conversations": 1,
            "customers": 0,
            "dead_letters": 0,
            "messages": 3,
            "notes": 1,
            "assignments": 1,
            "intake_requests": 1,
            "webhook_deliveries": 0,
        },
        **BOT_COUNTS,
    }
    [row] = await audit_rows(sessions)
    stored = repr(
        {column.name: getattr(row, column.name) for column in ErasureAudit.__table__.columns}
    )
    assert ana.sender_id not in stored and "Ana" not in stored and "4111" not in stored


async def test_only_supervisors_and_admins_may_erase(sessions, service_with):
    ana = await store_transcript(sessions, NOW)
    agent = await make_agent(sessions, role=Role.AGENT)
    admin = await make_agent(sessions, role=Role.ADMIN)
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(fake_server([ERASED]))
        api = await service_with(bot.url, stack)
        body = {"conversation_id": ana.pk}
        refused = await api.post("/api/v1/erasures", json=body, token=agent.token)
        anonymous = await api.post("/api/v1/erasures", json=body)
        listing = await api.get("/api/v1/erasures", token=agent.token)
        assert (refused.status, anonymous.status, listing.status) == (403, 401, 403)
        assert bot.requests == [] and await audit_rows(sessions) == []
        allowed = await api.post("/api/v1/erasures", json=body, token=admin.token)
    assert allowed.status == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 422, "conversation_or_sender"),
        ({"conversation_id": "a", "sender_id": "b"}, 422, "conversation_or_sender"),
        ({"sender_id": 5}, 422, "invalid"),
        ({"sender_id": " "}, 422, "invalid_sender"),
        ({"sender_id": "x" * 1001}, 422, "invalid_sender"),
        ({"conversation_id": "nope"}, 404, "conversation_not_found"),
        ([], 400, "malformed_body"),
    ],
)
async def test_a_bad_request_is_refused_and_changes_nothing(
    sessions, service_with, body, status, error
):
    ana = await store_transcript(sessions, NOW)
    boss = await make_agent(sessions, role=Role.SUPERVISOR)
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(fake_server([ERASED]))
        api = await service_with(bot.url, stack)
        answer = await api.post("/api/v1/erasures", json=body, token=boss.token)
    assert (answer.status, answer.body["error"]) == (status, error)
    assert bot.requests == [] and await audit_rows(sessions) == []
    assert (await count_rows(sessions, ana.pk))["messages"] == 3


async def test_without_an_erasure_token_nothing_is_half_erased(sessions, service_with):
    ana = await store_transcript(sessions, NOW)
    boss = await make_agent(sessions, role=Role.SUPERVISOR)
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(fake_server([ERASED]))
        api = await service_with(bot.url, stack, token="")
        answer = await api.post("/api/v1/erasures", json={"sender_id": "x"}, token=boss.token)
    assert (answer.status, answer.body["error"]) == (503, "erasure_unavailable")
    assert (await count_rows(sessions, ana.pk))["messages"] == 3


def test_a_placeholder_erasure_token_is_refused_and_an_empty_one_turns_erasure_off():
    tokens = {"HANDOFF_API_TOKEN": "a" * 20, "DELIVERY_TOKEN": "b" * 20}
    with pytest.raises(SettingsError, match="ERASURE_TOKEN"):
        Settings.from_env({**tokens, "ERASURE_TOKEN": "change-me"}).validated()
    assert Settings.from_env(tokens).validated().erasure_token == ""
    dev = Settings.from_env({"HANDOFF_ENV": "dev"}).validated()
    assert dev.erasure_token == "dev-erasure-token"


async def test_a_sender_only_the_bot_knows_is_still_erased_there(sessions, service_with):
    boss = await make_agent(sessions, role=Role.SUPERVISOR)
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(fake_server([ERASED]))
        api = await service_with(bot.url, stack)
        answer = await api.post(
            "/api/v1/erasures", json={"sender_id": "webchat-7f3a"}, token=boss.token
        )
        found = await api.get("/api/v1/erasures?sender_id=webchat-7f3a", token=boss.token)
        other = await api.get("/api/v1/erasures?sender_id=webchat-0000", token=boss.token)
        one = await api.get(f"/api/v1/erasures/{answer.body['id']}", token=boss.token)
    assert answer.status == 200
    assert bot.requests[0].body == {"sender_id": "webchat-7f3a", "message_ids": []}
    assert answer.body["counts"]["handoff_store"] == {
        **EMPTY,
        "customers": 0,
        "dead_letters": 0,
        "webhook_deliveries": 0,
    }
    assert [r["id"] for r in found.body["erasures"]] == [answer.body["id"]]
    assert other.body["erasures"] == []
    assert one.body == answer.body


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_the_bot_side_is_retried_until_done_and_the_store_waits_for_it(sessions):
    ana = await store_transcript(sessions, NOW)
    clock = Clock(NOW)
    async with (
        fake_server([(503, {"error": "store_unavailable"}), ERASED]) as bot,
        aiohttp.ClientSession() as http,
    ):
        service = ErasureService(sessions, http, bot.url, TOKEN, clock=clock)
        record = await service.request(Requester("cli:ops"), sender_id=ana.sender_id)
        assert record["status"] == "pending"
        assert record["last_error"] == "bot side unreachable (HTTP 503)"
        # the bot side first: until it is done, the transcript stays (and the tail cannot
        # bring back what the bot still has)
        assert (await count_rows(sessions, ana.pk))["messages"] == 3

        assert await service.retry_due() == 0  # not due yet: backoff
        assert len(bot.requests) == 1
        clock.now = NOW + timedelta(minutes=2)
        assert await service.retry_due() == 1
        done = await service.get(record["id"])

    assert len(bot.requests) == 2
    assert done["status"] == "done" and done["attempts"] == 2 and done["last_error"] is None
    assert done["completed_at"] == "2026-12-01T09:02:00.000Z"
    assert await count_rows(sessions, ana.pk) == EMPTY
    [row] = await audit_rows(sessions)
    assert row.pending_sender_id is None


async def test_instances_retrying_at_once_call_the_bot_side_once(sessions):
    ana = await store_transcript(sessions, NOW)
    clock = Clock(NOW)
    async with fake_server([(502, {}), ERASED]) as bot, aiohttp.ClientSession() as http:
        first = ErasureService(sessions, http, bot.url, TOKEN, clock=clock)
        record = await first.request(Requester("cli:ops"), sender_id=ana.sender_id)
        clock.now = NOW + timedelta(hours=2)
        instances = [ErasureService(sessions, http, bot.url, TOKEN, clock=clock) for _ in "abc"]
        done = await asyncio.gather(*(s.retry_due() for s in instances))
    assert sum(done) == 1
    assert len(bot.requests) == 2  # the first try, then exactly one retry
    assert (await first.get(record["id"]))["status"] == "done"


async def test_the_background_task_retries_pending_erasures(sessions):
    ana = await store_transcript(sessions, NOW)
    clock = Clock(NOW)
    rounds: list[float] = []
    async with fake_server([(503, {}), ERASED]) as bot, aiohttp.ClientSession() as http:
        service = ErasureService(sessions, http, bot.url, TOKEN, clock=clock)
        await service.request(Requester("cli:ops"), sender_id=ana.sender_id)

        async def sleep(seconds: float) -> None:
            rounds.append(seconds)
            clock.now += timedelta(minutes=5)
            if len(rounds) == 2:
                raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await run_erasure_retries(service, 30, sleep=sleep)
    assert rounds == [30, 30] and len(bot.requests) == 2
    assert await count_rows(sessions, ana.pk) == EMPTY


def erase_cli(database_url: str, bot_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli", "erase-customer", *args],
        cwd=REPO_ROOT,
        env={
            "DATABASE_URL": database_url,
            "DELIVERY_URL": bot_url,
            "ERASURE_TOKEN": TOKEN,
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # subprocesses
async def test_cli_erases_by_sender_or_conversation_id(sessions, database_url):
    ana = await store_transcript(sessions, NOW)
    ben = await store_transcript(sessions, NOW)
    async with fake_server([(503, {}), ERASED]) as bot:
        pending = await asyncio.to_thread(
            erase_cli, database_url, bot.url, "--sender-id", ana.sender_id
        )
        assert pending.returncode == 3, pending.stderr
        assert "pending" in pending.stderr
        done = await asyncio.to_thread(
            erase_cli, database_url, bot.url, "--conversation-id", ben.pk, "--requested-by", "kim"
        )
    assert done.returncode == 0, done.stderr
    assert '"status": "done"' in done.stdout
    assert await count_rows(sessions, ben.pk) == EMPTY
    assert (await count_rows(sessions, ana.pk))["messages"] == 3  # pending: the service retries
    by = sorted(row.requested_by for row in await audit_rows(sessions))
    assert by[0] == "cli:kim"


async def test_the_service_retries_pending_erasures_in_the_background(sessions, settings):
    ana = await store_transcript(sessions, NOW)
    async with fake_server([(503, {}), ERASED]) as bot:
        async with aiohttp.ClientSession() as http:
            service = ErasureService(sessions, http, bot.url, TOKEN)
            record = await service.request(Requester("cli:ops"), sender_id=ana.sender_id)
        async with sessions.begin() as session:  # its next attempt is due
            row = await session.get(ErasureAudit, record["id"])
            row.next_attempt_at = row.requested_at
        app = create_app(replace(settings, delivery_url=bot.url, erasure_token=TOKEN))
        async with serving(app):
            for _ in range(200):  # the first round runs at start; bounded polling
                if (await count_rows(sessions, ana.pk))["conversations"] == 0:
                    break
                await asyncio.sleep(0.05)
    assert await count_rows(sessions, ana.pk) == EMPTY
    [row] = await audit_rows(sessions)
    assert (row.status, row.attempts) == ("done", 2)
