"""Agents, logins (throttled, argon2 off the event loop) and session tokens (random, stored
hashed, expiring, purged when expired)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Conflict, Invalid, Unauthorized
from handoff.models import Agent, AgentSession, AgentTeam, Team, utc_now
from handoff.repositories import Agents, Sessions
from handoff.roles import Role
from handoff.services.passwords import Passwords
from handoff.services.throttle import LoginThrottle
from handoff.settings import LoginLimits


@dataclass(frozen=True)
class Principal:
    """The agent behind a request."""

    id: str
    name: str
    email: str
    role: Role
    teams: tuple[str, ...]
    token_hash: str

    def view(self) -> views.JSON:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role.value,
            "teams": list(self.teams),
            # which row of a conversation's `allowed_actions` applies when it is not theirs
            "viewer": "supervisor" if self.role.at_least(Role.SUPERVISOR) else "agent",
        }


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime
    agent: Principal


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl: timedelta,
        hasher: PasswordHasher | None = None,
        limits: LoginLimits | None = None,
    ) -> None:
        limits = limits or LoginLimits()
        self.sessions = sessions
        self.ttl = ttl
        self.passwords = Passwords(hasher, limits.hash_workers)
        self.throttle = LoginThrottle(limits)

    async def login(self, email: str, password: str, address: str | None = None) -> Login:
        """A new session; 401 on a wrong email or password, 429 while the account or the
        client `address` is throttled. No transaction is open while the password is hashed."""
        account = email.strip().lower()
        async with self.sessions.begin() as session:
            await self.throttle.check(session, account, address, utc_now())
            agent = await Agents(session).by_email(email)
            known = agent.password_hash if agent is not None and agent.active else None
        matches = await self.passwords.verify(known, password)
        if agent is None or not matches:
            async with self.sessions.begin() as session:
                self.throttle.failed(session, account, address, utc_now())
            raise Unauthorized("Wrong email or password.", "bad_credentials")
        rehashed = None
        if self.passwords.needs_rehash(agent.password_hash):
            rehashed = await self.passwords.hash(password)
        token = secrets.token_urlsafe(32)
        expires_at = utc_now() + self.ttl
        async with self.sessions.begin() as session:
            stored = await Agents(session).get(agent.id)
            if stored is None or not stored.active:  # disabled while its password was checked
                raise Unauthorized("This account is disabled.")
            await self.throttle.succeeded(session, account)
            if rehashed and stored.password_hash == agent.password_hash:
                stored.password_hash = rehashed
            session.add(
                AgentSession(token_hash=token_hash(token), agent_id=agent.id, expires_at=expires_at)
            )
            principal = await _principal(session, agent, token_hash(token))
        return Login(token, expires_at, principal)

    async def authenticate(self, token: str) -> Principal:
        hashed = token_hash(token)
        async with self.sessions.begin() as session:
            stored = await Sessions(session).get(hashed)
            if stored is None:
                raise Unauthorized("Log in again: this session is unknown or ended.")
            if stored.expires_at > utc_now():
                agent = await Agents(session).get(stored.agent_id)
                if agent is None or not agent.active:
                    raise Unauthorized("This account is disabled.")
                return await _principal(session, agent, hashed)
            await Sessions(session).remove(hashed)
        # Raised after the commit: raised inside the transaction, it would undo the delete.
        raise Unauthorized("Log in again: this session expired.", "session_expired")

    async def logout(self, principal: Principal) -> None:
        async with self.sessions.begin() as session:
            await Sessions(session).remove(principal.token_hash)

    async def purge_expired(self) -> int:
        """Delete expired sessions and failed logins older than the throttle's window; the
        number of sessions deleted. Idempotent, so every instance may run it."""
        now = utc_now()
        async with self.sessions.begin() as session:
            removed = await Sessions(session).remove_expired(now)
            await self.throttle.forget_old(session, now)
        return removed

    async def create_agent(
        self,
        email: str,
        name: str,
        password: str,
        role: Role = Role.AGENT,
        teams: Iterable[str] = (),
    ) -> str:
        """A new agent's id; 409 if the email is taken, 422 for an unknown team or bad input."""
        email, name = email.strip(), name.strip()
        if "@" not in email or not name or len(password) < 8:
            raise Invalid("An agent needs an email, a name and a password of 8+ characters.")
        password_hash = await self.passwords.hash(password)
        try:
            async with self.sessions.begin() as session:
                agent = Agent(email=email, name=name, role=role.value, active=True)
                agent.password_hash = password_hash
                session.add(agent)
                await session.flush()
                for team_id in teams:
                    if await session.get(Team, team_id) is None:
                        raise Invalid(f"Unknown team {team_id!r}.", "unknown_team")
                    session.add(AgentTeam(agent_id=agent.id, team_id=team_id, skills=[]))
                return agent.id
        except IntegrityError:
            raise Conflict(f"An agent with email {email} exists.", "agent_exists") from None

    def close(self) -> None:
        self.passwords.close()


async def _principal(session: AsyncSession, agent: Agent, hashed: str) -> Principal:
    teams = (await Agents(session).teams_of([agent.id]))[agent.id]
    return Principal(agent.id, agent.name, agent.email, Role(agent.role), tuple(teams), hashed)
