"""Fire-and-forget tasks whose references are kept (asyncio only keeps weak ones)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundTasks:
    """Runs webhook work after the 200 answer; logs failures instead of losing them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Background task failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait until every spawned task (and any task they spawn) has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
