"""Fixtures for the handoff service tests (also used by the sources and console tests).

`database_url` is parametrized over SQLite (a file in tmp_path) and PostgreSQL (one database per
test session, created here, migrated once and dropped at the end; tables are emptied after each
test). Either way the database is migrated with Alembic and empty when the test starts. A module
whose subject does not depend on the database (`pytestmark = pytest.mark.one_store`) runs on
SQLite only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sanic import Sanic
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handoff.app import create_app
from handoff.db import create_engine, session_factory
from handoff.migrate import upgrade
from handoff.models import Base
from handoff.settings import Settings
from harness.service import ApiClient, run_sync, serving

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
API_TOKEN = "test-intake-token"
DELIVERY_TOKEN = "test-delivery-token"

Sanic.test_mode = True  # several apps named "handoff" in one process


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_postgres() -> None:
    if _port_open(PG_HOST, PG_PORT):
        return
    version = next(Path("/etc/postgresql").iterdir()).name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True
    )
    deadline = time.monotonic() + 30
    while not _port_open(PG_HOST, PG_PORT):
        if time.monotonic() > deadline:
            pytest.fail("PostgreSQL did not start on 127.0.0.1:5432")
        time.sleep(0.2)


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "handoff.sqlite3"
    run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    ensure_postgres()
    name = f"handoff_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    run_sync(admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        run_sync(_migrate(url))
        yield url
    finally:
        run_sync(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_tables(url: str) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules marked `one_store` run on SQLite only (see the marker's description)."""
    kept, dropped = [], []
    for item in items:
        on_postgres = (
            getattr(item, "callspec", None)
            and item.callspec.params.get("database_url") == "postgresql"
        )
        (dropped if on_postgres and item.get_closest_marker("one_store") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty handoff store: SQLite file or the session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "handoff.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    run_sync(_empty_tables(url))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for an app under test; RASA_URL/DELIVERY_URL point at nothing unless replaced."""
    return Settings(
        database_url=database_url,
        api_token=API_TOKEN,
        delivery_token=DELIVERY_TOKEN,
        rasa_url="http://127.0.0.1:9",
        delivery_url="http://127.0.0.1:9",
        http_retries=3,
        http_backoff_seconds=0.01,
        sla_check_seconds=3600,
        csat_check_seconds=3600,  # tests start due surveys themselves (CsatService.send_due)
        suggestion_index_seconds=3600,  # tests of suggestions mine and refresh when they mean to
    )


@pytest.fixture
def app(settings: Settings) -> Sanic:
    return create_app(settings)


@pytest.fixture
async def base_url(app: Sanic) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[ApiClient]:
    async with aiohttp.ClientSession() as http:
        yield ApiClient(http, base_url)
