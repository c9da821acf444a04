"""Alembic: the migrations produce exactly the models' schema on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from handoff.models import Base


def diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrated_schema_matches_the_models(engine):
    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
