"""A throwaway, migrated handoff store for the service's benchmarks: on SQLite (a temporary
file) or on the local PostgreSQL (a database of its own, dropped afterwards), and the
command-line option choosing it. Needs the handoff service's environment (.venv-handoff)."""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from handoff.db import create_engine
from handoff.migrate import upgrade

DATABASES = ("sqlite", "postgresql")
PG_SERVER = "postgres@127.0.0.1:5432"


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="handoff store: a temporary SQLite file (default) or a throwaway database on"
        f" the PostgreSQL at {PG_SERVER} (trust auth)",
    )


@asynccontextmanager
async def throwaway_store(kind: str) -> AsyncIterator[str]:
    """The async URL of a new handoff store migrated with Alembic; removed on exit."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="handoff-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'handoff.sqlite3'}"
            await _migrate(url)
            yield url
        return
    name = f"handoff_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://{PG_SERVER}/{name}"
        await _migrate(url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
