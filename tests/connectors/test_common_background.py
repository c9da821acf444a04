import asyncio
import logging

import pytest

from connectors.common.background import BackgroundTasks


async def test_spawned_work_runs_and_can_be_awaited() -> None:
    tasks = BackgroundTasks()
    done: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0)
        done.append("x")

    tasks.spawn(work())
    await tasks.wait_idle()
    assert done == ["x"]


async def test_a_failing_task_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()

    async def broken() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        tasks.spawn(broken())
        await tasks.wait_idle()
    assert "Background task failed" in caplog.text
    assert "boom" in caplog.text
