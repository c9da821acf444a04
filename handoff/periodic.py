"""Background jobs of the app that run every few seconds for as long as it serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def run_every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `job` now and then every `seconds`; a failed round is logged, the next one retries."""
    while True:
        try:
            await job()
        except Exception:
            logger.exception("%s failed; retrying in %s s", what, seconds)
        await asyncio.sleep(seconds)
