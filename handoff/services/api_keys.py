"""Read-only API keys for BI and workforce tools (docs/kpis.md, "API").

A supervisor creates a key with a name; the token (`lhk_` and 43 random characters) is shown
once, only its SHA-256 is stored. A key reads the KPI endpoints and nothing else; revoking it
stops it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import Invalid, NotFound, Unauthorized
from handoff.models import ApiKey, utc_now

PREFIX = "lhk_"
SCOPE = "kpis:read"
MAX_NAME = 100


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_view(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scope": row.scope,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


class ApiKeyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def create(self, name: Any, agent_id: str) -> tuple[dict[str, Any], str]:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise Invalid(f"name must be 1 to {MAX_NAME} characters.", "invalid_name")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(
            name=name.strip(),
            token_hash=_hash(token),
            prefix=token[:10],
            scope=SCOPE,
            created_by_agent_id=agent_id,
            created_at=utc_now(),
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return key_view(row), token

    async def list(self) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc()))
            return [key_view(row) for row in rows]

    async def revoke(self, key_id: str) -> dict[str, Any]:
        async with self.sessions.begin() as session:
            row = await session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"No API key {key_id!r}.", "api_key_not_found")
            row.revoked_at = row.revoked_at or utc_now()
            return key_view(row)

    async def authenticate(self, token: str) -> ApiKey:
        async with self.sessions.begin() as session:
            row = (
                await session.scalars(select(ApiKey).where(ApiKey.token_hash == _hash(token)))
            ).first()
            if row is None or row.revoked_at is not None:
                raise Unauthorized("Unknown or revoked API key.", "invalid_api_key")
            await session.execute(
                update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=utc_now())
            )
            return row
