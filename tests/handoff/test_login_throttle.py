"""Login throttling per account and per client address (429 + Retry-After), shared by every
instance through the store; password hashing off the event loop, in a bounded pool."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from handoff.app import create_app
from handoff.models import LoginFailure, utc_now
from handoff.settings import LoginLimits, Settings
from harness.handoff_data import PASSWORD, make_agent
from harness.service import ApiClient, eventually, serving

pytestmark = pytest.mark.one_store  # the throttle is plain rows: not the database

WINDOW_SECONDS = 600
LIMITS = LoginLimits(
    window_seconds=WINDOW_SECONDS, failures_per_account=3, failures_per_address=5, hash_workers=2
)
WAIT_SECONDS = 30.0  # upper bound for a stalled answer to count as "never"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, login=LIMITS)


async def log_in(client: ApiClient, email: str, password: str) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_an_account_is_refused_with_retry_after_after_n_failures(client, sessions):
    agent = await make_agent(sessions)
    for _ in range(LIMITS.failures_per_account):
        assert (await log_in(client, agent.email, "wrong-password")).status == 401
    async with client.http.post(
        client.base_url + "/api/v1/auth/login",
        json={"email": agent.email.upper(), "password": PASSWORD},  # even the right password
    ) as answer:
        assert answer.status == 429
        assert answer.content_type == "application/json"
        assert (await answer.json())["error"] == "login_throttled"
        assert 1 <= int(answer.headers["Retry-After"]) <= WINDOW_SECONDS


async def test_the_refusal_ends_when_the_failures_leave_the_window(client, sessions):
    agent = await make_agent(sessions)
    for _ in range(LIMITS.failures_per_account):
        await log_in(client, agent.email, "wrong-password")
    assert (await log_in(client, agent.email, PASSWORD)).status == 429
    async with sessions.begin() as session:  # as if the window had passed
        await session.execute(
            update(LoginFailure).values(failed_at=utc_now() - timedelta(seconds=WINDOW_SECONDS))
        )
    assert (await log_in(client, agent.email, PASSWORD)).status == 200


async def test_one_address_is_refused_across_accounts(client, sessions):
    accounts = [(await make_agent(sessions)).email for _ in range(3)]
    for number in range(LIMITS.failures_per_address):
        answer = await log_in(client, accounts[number % 3], "wrong-password")
        assert answer.status == 401  # each account stays under its own limit
    agent = await make_agent(sessions)
    answer = await log_in(client, agent.email, PASSWORD)
    assert answer.status == 429 and answer.body["error"] == "login_throttled"


async def test_a_successful_login_resets_the_accounts_count(client, sessions):
    agent = await make_agent(sessions)
    below = LIMITS.failures_per_account - 1
    for _ in range(2):
        for _ in range(below):
            assert (await log_in(client, agent.email, "wrong-password")).status == 401
        assert (await log_in(client, agent.email, PASSWORD)).status == 200


async def test_instances_on_one_store_share_the_count(client, sessions, settings):
    agent = await make_agent(sessions)
    async with serving(create_app(settings)) as other_url, aiohttp.ClientSession() as http:
        other = ApiClient(http, other_url)
        for number in range(LIMITS.failures_per_account):
            instance = (client, other)[number % 2]
            assert (await log_in(instance, agent.email, "wrong-password")).status == 401
        assert (await log_in(other, agent.email, PASSWORD)).status == 429
        assert (await log_in(client, agent.email, PASSWORD)).status == 429


class GatedHasher(PasswordHasher):
    """A real argon2 hasher whose `verify` waits for the test to open the gate, counting how
    many verifications are under way at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if not self.gate.wait(WAIT_SECONDS):
                raise TimeoutError("the test never opened the gate")
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_health_answers_while_logins_hash(app, client, sessions):
    agent = await make_agent(sessions)
    hasher = GatedHasher()
    app.ctx.auth.passwords.hasher = hasher
    logins = [asyncio.ensure_future(log_in(client, agent.email, PASSWORD)) for _ in range(20)]
    try:

        async def hashing() -> bool:
            return hasher.running == LIMITS.hash_workers

        await eventually(hashing)
        health = await asyncio.wait_for(client.get("/health"), WAIT_SECONDS)
        assert health.status == 200 and health.body == {"status": "ok"}
        assert not any(login.done() for login in logins)  # all still hashing or waiting
    finally:
        hasher.gate.set()
    answers = await asyncio.gather(*logins)
    assert [answer.status for answer in answers] == [200] * 20
    assert hasher.most_at_once == LIMITS.hash_workers  # the pool bounds concurrent hashing
