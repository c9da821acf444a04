"""`python -m handoff.cli`: migrate, create-admin, seed-demo (idempotent)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from handoff.models import Agent, Team
from handoff.settings import REPO_ROOT

pytestmark = pytest.mark.one_store  # the command line: not the database


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli", *args],
        cwd=REPO_ROOT,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # subprocesses and real argon2 hashes: several seconds
async def test_seed_demo_twice_and_create_admin(database_url, sessions):
    assert cli(database_url, "migrate").returncode == 0
    first = cli(database_url, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("password demo-") == 4
    again = cli(database_url, "seed-demo")
    assert "already exist" in again.stdout
    admin = cli(
        database_url,
        "create-admin",
        "--email",
        "a@x.example",
        "--name",
        "Ada",
        "--password",
        "long-enough",
    )
    assert admin.returncode == 0, admin.stderr
    duplicate = cli(
        database_url,
        "create-admin",
        "--email",
        "a@x.example",
        "--name",
        "Ada",
        "--password",
        "long-enough",
    )
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Team)) == 5
        roles = sorted((await session.scalars(select(Agent.role))).all())
    assert roles == ["admin", "agent", "agent", "agent", "supervisor"]
