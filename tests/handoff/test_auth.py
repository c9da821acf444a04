"""Login, sessions (hashed, expiring), logout and roles."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from handoff.app import create_app
from handoff.models import AgentSession, utc_now
from handoff.roles import Role
from handoff.services.auth import token_hash
from harness.handoff_data import PASSWORD, make_agent
from harness.service import eventually, serving

pytestmark = pytest.mark.one_store  # sessions and tokens are plain rows: not the database


async def test_login_me_logout(client, sessions):
    agent = await make_agent(sessions, name="Dana", teams=("billing",))
    login = await client.post(
        "/api/v1/auth/login", json={"email": agent.email.upper(), "password": PASSWORD}
    )
    assert login.status == 200
    token = login.body["token"]
    assert login.body["agent"] == {
        "id": agent.id,
        "name": "Dana",
        "email": agent.email,
        "role": "agent",
        "teams": ["billing"],
        "viewer": "agent",
    }
    async with sessions() as session:
        stored = await session.scalars(select(AgentSession.token_hash))
        assert token not in set(stored)  # only hashes are stored
    assert (await client.get("/api/v1/me", token=token)).body["id"] == agent.id
    assert (await client.post("/api/v1/auth/logout", token=token)).status == 204
    assert (await client.get("/api/v1/me", token=token)).status == 401


async def test_wrong_password_and_unknown_email(client, sessions):
    agent = await make_agent(sessions)
    for email, password in [(agent.email, "wrong-password"), ("who@x.example", PASSWORD)]:
        answer = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert answer.status == 401
        assert answer.body["error"] == "bad_credentials"
    missing = await client.post("/api/v1/auth/login", json={"email": agent.email})
    assert missing.status == 400


async def expire(sessions, token: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(AgentSession)
            .where(AgentSession.token_hash == token_hash(token))
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )


async def stored_sessions(sessions) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(AgentSession.token_hash)))


async def test_expired_session_is_refused_and_deleted(client, sessions):
    agent = await make_agent(sessions)
    await expire(sessions, agent.token)
    answer = await client.get("/api/v1/me", token=agent.token)
    assert answer.status == 401 and answer.body["error"] == "session_expired"
    assert token_hash(agent.token) not in await stored_sessions(sessions)


async def test_expired_sessions_are_purged_in_the_background(sessions, settings):
    expired, current = await make_agent(sessions), await make_agent(sessions)
    await expire(sessions, expired.token)
    purging = create_app(replace(settings, session_cleanup_seconds=0.05))

    async def purged() -> bool:
        return token_hash(expired.token) not in await stored_sessions(sessions)

    async with serving(purging):
        await eventually(purged)
    assert token_hash(current.token) in await stored_sessions(sessions)


async def test_every_agent_endpoint_needs_a_session(client, app):
    agent_routes = [
        route
        for route in app.router.routes
        if route.path.startswith("api/v1/")
        and "handoffs" not in route.path
        and "auth/login" not in route.path
        and route.path != "api/v1/ws"
    ]
    assert len(agent_routes) >= 12
    for route in agent_routes:
        path = "/" + re.sub(r"<\w+:(str|int)>", "1", route.path)
        for method in route.methods:
            answer = await client.request(method, path, token="bogus")
            assert answer.status == 401, path


async def test_roles_are_ordered():
    assert Role.ADMIN.at_least(Role.SUPERVISOR) and Role.SUPERVISOR.at_least(Role.AGENT)
    assert not Role.AGENT.at_least(Role.SUPERVISOR)
