"""Administration: `python -m handoff.cli migrate | create-admin | seed-demo | seed-history |
kpi-refresh | import-canned-replies | retention | erase-customer` (DATABASE_URL and the
service's other settings)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.csat import load_policy
from handoff.db import create_engine, session_factory
from handoff.errors import ServiceError
from handoff.migrate import upgrade
from handoff.models import Team
from handoff.repositories import Agents
from handoff.roles import Role
from handoff.services.auth import AuthService
from handoff.services.business_calendar import load_calendar
from handoff.services.canned_replies import LIBRARY_FILE, CannedReplyService, load_library
from handoff.services.demo_history import seed_history
from handoff.services.erasure import DONE, ErasureService, Requester
from handoff.services.kpis import KpiRefresher
from handoff.services.retention import RetentionPolicy, apply_retention
from handoff.settings import RETENTION_MODES, Settings, SettingsError, async_database_url

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
    created: list[tuple[str, str, str]] = []
    for email, name, role, teams in DEMO_AGENTS:
        async with sessions() as session:
            if await Agents(session).by_email(email) is not None:
                continue
        password = f"demo-{secrets.token_hex(4)}"
        await auth.create_agent(email, name, password, role, teams)
        created.append((email, role.value, password))
    print(f"teams: {', '.join(DEMO_TEAMS)}")
    await import_canned_replies(engine, LIBRARY_FILE)
    if not created:
        print("demo agents already exist (their passwords were printed when they were created)")
    for email, role_name, password in created:
        print(f"{role_name:<10} {email:<28} password {password}")


async def import_canned_replies(engine: AsyncEngine, path: Path) -> None:
    """Validate the whole file first (nothing is stored when one entry is wrong), then upsert."""
    replies = load_library(path)
    created, updated = await CannedReplyService(session_factory(engine)).import_library(replies)
    print(f"canned replies from {path}: {created} created, {updated} updated")


async def history(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> None:
    sessions = session_factory(engine)
    scale = load_policy(settings.csat_policy_path).scale  # the surveys the service would send
    count = await seed_history(sessions, args.days, args.per_day, args.seed, scale=scale)
    print(f"demo history: {count} conversations over {args.days} days")
    await kpi_refresh(engine, settings)


async def kpi_refresh(engine: AsyncEngine, settings: Settings) -> None:
    calendar = load_calendar(settings.kpis.business_hours_path)
    count = await KpiRefresher(session_factory(engine), calendar).refresh()
    print(f"KPI facts recomputed for {count} conversations")


async def retention(engine: AsyncEngine, policy: RetentionPolicy, dry_run: bool) -> None:
    report = await apply_retention(session_factory(engine), policy, dry_run=dry_run)
    print(f"retention ({policy.mode} after {policy.days} days): {report.summary()}")


async def erase_customer(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> bool:
    """Erase one customer everywhere; whether it is done (else the service retries it)."""
    async with aiohttp.ClientSession() as http:
        service = ErasureService(
            session_factory(engine), http, settings.delivery_url, settings.erasure_token
        )
        record = await service.request(
            Requester(f"cli:{args.requested_by}"),
            conversation_pk=args.conversation_id,
            sender_id=args.sender_id,
        )
    print(json.dumps(record, indent=2))
    if record["status"] != DONE:
        print(
            f"erasure {record['id']} is pending ({record['last_error']}); the running handoff"
            " service retries it",
            file=sys.stderr,
        )
    return bool(record["status"] == DONE)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m handoff.cli", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database to the latest schema")
    admin = commands.add_parser("create-admin", help="create an admin agent")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument("--password", required=True)
    commands.add_parser("seed-demo", help="demo teams, a supervisor and agents (idempotent)")
    canned = commands.add_parser(
        "import-canned-replies", help="add or update canned replies from a YAML library"
    )
    canned.add_argument("path", type=Path, nargs="?", default=LIBRARY_FILE)
    seed = commands.add_parser(
        "seed-history",
        help="replace the demo history: made-up conversations of the last weeks (run seed-demo"
        " first: it needs agents in teams)",
    )
    seed.add_argument("--days", type=int, default=21)
    seed.add_argument("--per-day", type=float, default=120, help="conversations on a weekday")
    seed.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    commands.add_parser("kpi-refresh", help="recompute the KPI facts of changed conversations")
    keep = commands.add_parser(
        "retention", help="delete or anonymise ended transcripts older than RETENTION_DAYS"
    )
    keep.add_argument("--dry-run", action="store_true", help="only count what is due")
    keep.add_argument("--days", type=int, help="instead of RETENTION_DAYS")
    keep.add_argument("--mode", choices=RETENTION_MODES, help="instead of RETENTION_MODE")
    erase = commands.add_parser(
        "erase-customer",
        help="erase one customer from every store (ERASURE_TOKEN, DELIVERY_URL); exit 3 while"
        " the bot side is still pending",
    )
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--conversation-id", help="the handoff service's conversation id")
    which.add_argument("--sender-id", help="the Rasa sender id (e.g. a WhatsApp number)")
    erase.add_argument("--requested-by", default=getpass.getuser(), help="recorded in the audit")
    return root


async def run(args: argparse.Namespace, settings: Settings) -> bool:
    """Run the command; False when it could not finish yet (a pending erasure)."""
    engine = create_engine(async_database_url(settings.database_url))
    try:
        if args.command == "erase-customer":
            return await erase_customer(engine, settings, args)
        if args.command == "migrate":
            await migrate(engine)
        elif args.command == "create-admin":
            await create_admin(engine, args.email, args.name, args.password)
        elif args.command == "import-canned-replies":
            await import_canned_replies(engine, args.path)
        elif args.command == "seed-history":
            await history(engine, settings, args)
        elif args.command == "kpi-refresh":
            await kpi_refresh(engine, settings)
        elif args.command == "retention":
            await retention(engine, retention_policy(args, settings), args.dry_run)
        else:
            await seed_demo(engine)
    finally:
        await engine.dispose()
    return True


def retention_policy(args: argparse.Namespace, settings: Settings) -> RetentionPolicy:
    days = settings.retention_days if args.days is None else args.days
    if days <= 0:
        raise SettingsError("Give --days or set RETENTION_DAYS to a positive number of days.")
    mode = args.mode or settings.retention_mode
    if mode not in RETENTION_MODES:
        raise SettingsError(
            f"RETENTION_MODE {mode!r}: expected one of {', '.join(RETENTION_MODES)}"
        )
    return RetentionPolicy(days, mode)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        finished = asyncio.run(run(args, Settings.from_env()))
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if finished else 3


if __name__ == "__main__":
    sys.exit(main())
