"""Agents, passwords (argon2) and session tokens (random, stored hashed, expiring)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Conflict, Invalid, Unauthorized
from handoff.models import Agent, AgentSession, AgentTeam, Team, utc_now
from handoff.repositories import Agents, Sessions
from handoff.roles import Role


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
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    async def login(self, email: str, password: str) -> Login:
        async with self.sessions.begin() as session:
            agent = await Agents(session).by_email(email)
            if agent is None or not agent.active:
                self._verify(self._dummy(), password)  # same work for unknown emails
                raise Unauthorized("Wrong email or password.", "bad_credentials")
            if not self._verify(agent.password_hash, password):
                raise Unauthorized("Wrong email or password.", "bad_credentials")
            if self.hasher.check_needs_rehash(agent.password_hash):
                agent.password_hash = self.hasher.hash(password)
            token = secrets.token_urlsafe(32)
            expires_at = utc_now() + self.ttl
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
            if stored.expires_at <= utc_now():
                await Sessions(session).remove(hashed)
                raise Unauthorized("Log in again: this session expired.", "session_expired")
            agent = await Agents(session).get(stored.agent_id)
            if agent is None or not agent.active:
                raise Unauthorized("This account is disabled.")
            return await _principal(session, agent, hashed)

    async def logout(self, principal: Principal) -> None:
        async with self.sessions.begin() as session:
            await Sessions(session).remove(principal.token_hash)

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
        try:
            async with self.sessions.begin() as session:
                agent = Agent(email=email, name=name, role=role.value, active=True)
                agent.password_hash = self.hasher.hash(password)
                session.add(agent)
                await session.flush()
                for team_id in teams:
                    if await session.get(Team, team_id) is None:
                        raise Invalid(f"Unknown team {team_id!r}.", "unknown_team")
                    session.add(AgentTeam(agent_id=agent.id, team_id=team_id, skills=[]))
                return agent.id
        except IntegrityError:
            raise Conflict(f"An agent with email {email} exists.", "agent_exists") from None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_hex(8))
        return self._dummy_hash


async def _principal(session: AsyncSession, agent: Agent, hashed: str) -> Principal:
    teams = (await Agents(session).teams_of([agent.id]))[agent.id]
    return Principal(agent.id, agent.name, agent.email, Role(agent.role), tuple(teams), hashed)
