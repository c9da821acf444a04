"""The queue in keyset pages (GET /api/v1/queue?limit=&cursor=): every waiting conversation
once, in queue order (priority, SLA due time, none last, queueing time), while others arrive."""

from __future__ import annotations

import pytest

from harness.handoff_data import make_agent, make_conversation

LEVELS = {1: "urgent", 2: "high", 3: "normal", 4: "low"}


async def waiting(sessions, level: int, minutes: int | None) -> str:
    priority = {"level": level, "name": LEVELS[level], "first_response_minutes": minutes}
    return (await make_conversation(sessions, priority=priority))["id"]


async def pages(client, token: str, limit: int) -> list[list[str]]:
    found, cursor = [], None
    while True:
        query = f"/api/v1/queue?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = await client.get(query, token=token)
        assert answer.status == 200
        found.append([c["id"] for c in answer.body["conversations"]])
        cursor = answer.body["next"]
        if cursor is None:
            return found


async def test_pages_walk_the_whole_queue_in_order_once(client, sessions):
    dana = await make_agent(sessions, teams=("billing",))
    low = await waiting(sessions, 4, 60)
    no_promise = await waiting(sessions, 2, None)  # no due time: after the high ones that have one
    high_late = await waiting(sessions, 2, 30)
    high_soon = await waiting(sessions, 2, 5)
    urgent = await waiting(sessions, 1, 2)
    walked = await pages(client, dana.token, 2)
    assert [len(page) for page in walked] == [2, 2, 1]
    order = [pk for page in walked for pk in page]
    assert order == [urgent, high_soon, high_late, no_promise, low]

    first = await client.get("/api/v1/queue?limit=2", token=dana.token)
    newcomer = await waiting(sessions, 1, 1)  # arrives ahead of the page already seen
    rest = await client.get(f"/api/v1/queue?limit=10&cursor={first.body['next']}", token=dana.token)
    assert [c["id"] for c in rest.body["conversations"]] == [high_late, no_promise, low]
    assert newcomer not in [c["id"] for c in rest.body["conversations"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "cursor=bm9wZQ"])
async def test_a_wrong_page_request_is_422(client, sessions, query):
    dana = await make_agent(sessions, teams=("billing",))
    answer = await client.get(f"/api/v1/queue?{query}", token=dana.token)
    assert answer.status == 422
    assert answer.body["error"] in ("invalid_limit", "invalid_cursor")
