"""Factories for agents, teams, sessions, handoffs and Rasa broker events (fresh data per call)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.values import format_time
from handoff.live import LocalBroadcaster
from handoff.models import Team
from handoff.roles import Role
from handoff.services.auth import AuthService
from handoff.services.intake import IntakeService

# Cheap argon2 parameters keep tests fast; `verify` reads the parameters from each hash.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class AgentLogin:
    id: str
    name: str
    email: str
    role: Role
    password: str
    token: str


def auth_service(sessions: async_sessionmaker[AsyncSession], ttl_minutes: int = 60) -> AuthService:
    return AuthService(sessions, timedelta(minutes=ttl_minutes), FAST_HASHER)


async def make_team(sessions: async_sessionmaker[AsyncSession], team_id: str = "billing") -> str:
    async with sessions.begin() as session:
        if await session.get(Team, team_id) is None:
            session.add(Team(id=team_id, name=team_id.title()))
    return team_id


async def make_agent(
    sessions: async_sessionmaker[AsyncSession],
    role: Role = Role.AGENT,
    name: str | None = None,
    teams: tuple[str, ...] = (),
) -> AgentLogin:
    """A new agent, logged in (its session token ready to use)."""
    number = next(_numbers)
    name = name or f"Agent {number}"
    email = f"agent{number}-{uuid.uuid4().hex[:6]}@lumen.example"
    auth = auth_service(sessions)
    try:
        for team in teams:
            await make_team(sessions, team)
        agent_id = await auth.create_agent(email, name, PASSWORD, role, teams)
        login = await auth.login(email, PASSWORD)
    finally:
        auth.close()  # its hashing threads
    return AgentLogin(agent_id, name, email, role, PASSWORD, login.token)


def handoff_body(conversation_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """An intake body as the bot sends it (docs/handoff-intake.md)."""
    conversation_id = conversation_id or f"sender-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    body: dict[str, Any] = {
        "conversation_id": conversation_id,
        "channel": "webchat",
        "customer": {"id": conversation_id, "language": "en"},
        "triage": {
            "topic": "billing",
            "description": "charged twice",
            "reference": "ACC-482913",
            "mode_preference": "sync",
            "device_name": None,
        },
        "priority": {"level": 3, "name": "normal", "first_response_minutes": 15},
        "mode": "sync",
        "team": "billing",
        "tags": ["billing"],
        "reasons": ["billing topic → billing team"],
        "frustration": {"score": 0.2, "signals": []},
        "escalation_reason": "human_request",
        "transcript": [
            {
                "author_type": "customer",
                "text": "I was charged twice",
                "timestamp": format_time(now - timedelta(minutes=2)),
                "message_id": f"m-{uuid.uuid4().hex[:8]}",
                "intent": "billing_problem",
                "channel": "rest",
                "frustration": None,
                "entities": [],
                "payload": False,
            },
            {
                "author_type": "bot",
                "text": "I'm handing you over to a person.",
                "buttons": [],
                "timestamp": format_time(now - timedelta(minutes=1)),
            },
        ],
        "requested_at": format_time(now),
    }
    body.update(overrides)
    return body


async def make_conversation(
    sessions: async_sessionmaker[AsyncSession], **overrides: Any
) -> dict[str, Any]:
    """A queued conversation (through the real intake); its JSON view."""
    intake = IntakeService(sessions, LocalBroadcaster())
    result = await intake.receive(uuid.uuid4().hex, handoff_body(**overrides))
    return result.conversation


def user_event(
    sender: str, text: str, at: float, message_id: str | None = None, **parse_data: Any
) -> dict[str, Any]:
    """A Rasa `user` event as the event broker publishes it."""
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": at,
        "text": text,
        "message_id": message_id or uuid.uuid4().hex,
        "input_channel": "rest",
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.9},
            "entities": [],
            **parse_data,
        },
        "metadata": {},
    }


def bot_event(sender: str, text: str, at: float, **metadata: Any) -> dict[str, Any]:
    return {
        "sender_id": sender,
        "event": "bot",
        "timestamp": at,
        "text": text,
        "data": {"buttons": None},
        "metadata": metadata,
    }


def slot_event(sender: str, name: str, value: Any, at: float) -> dict[str, Any]:
    return {"sender_id": sender, "event": "slot", "timestamp": at, "name": name, "value": value}
