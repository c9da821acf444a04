"""A database that refuses one line, as it would a value it cannot hold (a trigger, real SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_line BEFORE INSERT ON messages WHEN NEW.text = :text"
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_line() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF NEW.text = :text THEN RAISE EXCEPTION 'refused by the test'"
        " USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_line BEFORE INSERT ON messages"
        " FOR EACH ROW EXECUTE FUNCTION refuse_line()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_line"],
    "postgresql": ["DROP TRIGGER refuse_line ON messages", "DROP FUNCTION refuse_line()"],
}


async def _run(sessions: async_sessionmaker[AsyncSession], statements: list[str]) -> None:
    async with sessions.begin() as session:
        for statement in statements:
            await session.execute(text(statement))


@asynccontextmanager
async def refusing(sessions: async_sessionmaker[AsyncSession], line: str) -> AsyncIterator[None]:
    """While inside, the database refuses to store a message whose text is `line`."""
    dialect = sessions.kw["bind"].dialect.name
    quoted = "'" + line.replace("'", "''") + "'"
    await _run(sessions, [sql.replace(":text", quoted) for sql in REFUSE[dialect]])
    try:
        yield
    finally:
        await _run(sessions, ALLOW[dialect])
