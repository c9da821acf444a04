"""Background jobs of the app that run every few seconds for as long as it serves.

With several instances on one store, `run_leased` makes a job run once across them: each round
first takes (or renews) the job's lease in the database (`Leases.take`, one conditional upsert)
and only the holder runs it. A holder that stops is replaced when its lease runs out, after at
most two rounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.models import utc_now
from handoff.repositories import Leases

logger = logging.getLogger(__name__)


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` passed; whether it was set.

    Not `asyncio.wait_for(event.wait(), …)`: on Python 3.10 that swallows a cancellation that
    arrives as the event is set, and a job loop cancelled at shutdown would then run on, with
    the app's stop waiting for it forever.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return bool(done)


async def run_every(
    seconds: float, job: Callable[[], Awaitable[object]], what: str, *, at_start: bool = True
) -> None:
    """Run `job` now (unless not `at_start`) and then every `seconds`; a failed round is logged,
    the next one retries."""
    if not at_start:
        await asyncio.sleep(seconds)
    while True:
        try:
            await job()
        except Exception:
            logger.exception("%s failed; retrying in %s s", what, seconds)
        await asyncio.sleep(seconds)


async def holds_lease(
    sessions: async_sessionmaker[AsyncSession], name: str, holder: str, ttl: timedelta
) -> bool:
    """Take or renew the lease `name` for `holder` for `ttl`; whether `holder` has it now."""
    now = utc_now()
    async with sessions.begin() as session:
        return await Leases(session).take(name, holder, now + ttl, now)


def leased(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    holder: str,
    seconds: float,
    job: Callable[[], Awaitable[object]],
) -> Callable[[], Awaitable[object]]:
    """`job` run only by the instance holding the lease `name` (kept for two rounds)."""
    ttl = timedelta(seconds=2 * seconds)

    async def round_if_held() -> object:
        if await holds_lease(sessions, name, holder, ttl):
            return await job()
        return None

    return round_if_held


async def run_leased(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    holder: str,
    seconds: float,
    job: Callable[[], Awaitable[object]],
    *,
    at_start: bool = True,
) -> None:
    """`run_every` for a job that must run once across instances."""
    await run_every(seconds, leased(sessions, name, holder, seconds, job), name, at_start=at_start)
