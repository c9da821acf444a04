"""Runs the event source named by EVENT_SOURCE (`sql:<url>` or `amqp://…`) beside the server.

`start_source(app)` (after the server started, with `app.ctx.sink` ready) creates the source
and runs it as a task; both are kept on `app.ctx`. `stop_source(app)` must run on server stop
before the database engine is disposed: it asks the source to finish the batch in hand and
waits for it (a batch cut short would only be delivered again, but a clean stop logs nothing).
"""

from __future__ import annotations

import asyncio
import logging

from sanic import Sanic

from handoff.ingest.sources import create_source

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0  # seconds for the batch in hand; then the task is cancelled


async def start_source(app: Sanic) -> None:
    configured = app.ctx.settings.event_source
    if configured is None:
        return
    source = create_source(configured.kind, configured.url, app.ctx.sink)
    app.ctx.event_source = source
    app.ctx.event_source_task = task = asyncio.create_task(source.run(), name=source.name)
    task.add_done_callback(_log_failure)
    logger.info("Event source %s started", source.name)


async def stop_source(app: Sanic) -> None:
    task: asyncio.Task[None] | None = getattr(app.ctx, "event_source_task", None)
    if task is None:
        return
    app.ctx.event_source.stop()
    done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
    if not done:
        logger.warning("Event source %s did not stop in time; cancelling it", task.get_name())
        task.cancel()
        await asyncio.wait({task})
    del app.ctx.event_source_task


def _log_failure(task: asyncio.Task[None]) -> None:
    """Sources retry every failure themselves: an exception here is a bug, and must be seen."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("Event source %s stopped by an error", task.get_name(), exc_info=error)
