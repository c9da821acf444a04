"""A job loop cancelled at shutdown stops, even when it was woken in the same instant.

(`asyncio.wait_for(event.wait(), …)` on Python 3.10 swallows that cancellation: the queue loop
then ran on and the app's stop waited for it forever.)
"""

from __future__ import annotations

import asyncio

import pytest

from handoff.periodic import wait_until_set


async def test_a_wait_cancelled_as_its_event_is_set_is_still_cancelled() -> None:
    event = asyncio.Event()
    waiting = asyncio.ensure_future(wait_until_set(event, 60))
    await asyncio.sleep(0)  # it waits now
    event.set()  # a wake-up and the app's stop in one tick
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_wait_says_whether_the_event_came_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    event.set()
    assert await wait_until_set(event, 60) is True
