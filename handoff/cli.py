"""Administration: `python -m handoff.cli migrate | create-admin | seed-demo` (DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.db import create_engine, session_factory
from handoff.errors import ServiceError
from handoff.migrate import upgrade
from handoff.models import Team
from handoff.repositories import Agents
from handoff.roles import Role
from handoff.services.auth import AuthService
from handoff.settings import Settings, async_database_url

DEMO_TEAMS = {
    "billing": "Billing",
    "devices": "Device support",
    "accounts": "Accounts",
    "orders": "Orders",
    "care": "Customer care",
}
DEMO_AGENTS = (
    ("supervisor@lumen.example", "Sam Supervisor", Role.SUPERVISOR, tuple(DEMO_TEAMS)),
    ("dana@lumen.example", "Dana", Role.AGENT, ("billing", "accounts")),
    ("lee@lumen.example", "Lee", Role.AGENT, ("devices", "orders")),
    ("kim@lumen.example", "Kim", Role.AGENT, ("care", "billing")),
)


async def migrate(engine: AsyncEngine) -> None:
    await upgrade(engine)
    print("database migrated")


async def create_admin(engine: AsyncEngine, email: str, name: str, password: str) -> None:
    auth = AuthService(session_factory(engine), timedelta(minutes=1))
    await auth.create_agent(email, name, password, Role.ADMIN)
    print(f"admin {email} created")


async def seed_demo(engine: AsyncEngine) -> None:
    """Demo teams and agents; agents that exist are left alone, so running it twice is safe."""
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        for team_id, name in DEMO_TEAMS.items():
            if await session.get(Team, team_id) is None:
                session.add(Team(id=team_id, name=name))
    auth = AuthService(sessions, timedelta(minutes=1))
    created = []
    for email, name, role, teams in DEMO_AGENTS:
        async with sessions() as session:
            if await Agents(session).by_email(email) is not None:
                continue
        password = f"demo-{secrets.token_hex(4)}"
        await auth.create_agent(email, name, password, role, teams)
        created.append((email, role.value, password))
    print(f"teams: {', '.join(DEMO_TEAMS)}")
    if not created:
        print("demo agents already exist (their passwords were printed when they were created)")
    for email, role, password in created:
        print(f"{role:<10} {email:<28} password {password}")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m handoff.cli", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database to the latest schema")
    admin = commands.add_parser("create-admin", help="create an admin agent")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument("--password", required=True)
    commands.add_parser("seed-demo", help="demo teams, a supervisor and agents (idempotent)")
    return root


async def run(args: argparse.Namespace, database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        if args.command == "migrate":
            await migrate(engine)
        elif args.command == "create-admin":
            await create_admin(engine, args.email, args.name, args.password)
        else:
            await seed_demo(engine)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    database_url = async_database_url(Settings.from_env().database_url)
    try:
        asyncio.run(run(args, database_url))
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
