"""Intake (POST /api/v1/handoffs): idempotency, updates of a queued conversation, bad input."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from handoff.models import Conversation, IntakeRequest, Message
from tests.handoff.conftest import API_TOKEN
from tests.handoff.factories import handoff_body


async def counts(sessions) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Conversation)),
            await session.scalar(select(func.count()).select_from(Message)),
            await session.scalar(select(func.count()).select_from(IntakeRequest)),
        )


def intake(client, body, key=None, token=API_TOKEN):
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post("/api/v1/handoffs", json=body, token=token, headers=headers)


async def test_new_handoff_is_queued_with_its_transcript(client, sessions):
    body = handoff_body(priority={"level": 2, "name": "high", "first_response_minutes": 5})
    answer = await intake(client, body)
    assert answer.status == 201
    view = answer.body
    assert view["status"] == "queued"
    assert view["conversation_id"] == body["conversation_id"]
    assert view["priority"] == {"level": 2, "name": "high", "first_response_minutes": 5}
    assert view["team"] == "billing" and view["mode"] == "sync"
    assert view["sla_due_at"] > view["queued_at"]
    assert view["last_message"]["author_type"] == "bot"
    detail = await client.get(f"/api/v1/conversations/{view['id']}", token=None)
    assert detail.status == 401
    assert await counts(sessions) == (1, 2, 1)


async def test_replayed_key_answers_200_with_the_same_handoff(client, sessions):
    body = handoff_body()
    first = await intake(client, body, key="key-1")
    again = await intake(client, {**body, "team": "orders"}, key="key-1")
    assert (first.status, again.status) == (201, 200)
    assert again.body["id"] == first.body["id"]
    assert again.body["team"] == "billing"  # the replay changed nothing
    assert await counts(sessions) == (1, 2, 1)


async def test_concurrent_replays_store_one_handoff(client, sessions):
    body = handoff_body()
    answers = await asyncio.gather(*(intake(client, body, key="same") for _ in range(8)))
    assert sorted(answer.status for answer in answers) == [200] * 7 + [201]
    assert len({answer.body["id"] for answer in answers}) == 1
    assert await counts(sessions) == (1, 2, 1)


async def test_new_key_for_a_queued_conversation_updates_the_entry(client, sessions):
    body = handoff_body()
    first = await intake(client, body)
    later = handoff_body(
        body["conversation_id"],
        priority={"level": 1, "name": "urgent", "first_response_minutes": 2},
        tags=["billing", "frustrated"],
        transcript=[*body["transcript"], {**body["transcript"][0], "message_id": "m-new"}],
    )
    second = await intake(client, later)
    assert second.status == 200
    assert second.body["id"] == first.body["id"]
    assert second.body["priority"]["level"] == 1
    assert second.body["tags"] == ["billing", "frustrated"]
    assert second.body["queued_at"] == first.body["queued_at"]
    assert await counts(sessions) == (1, 3, 2)


async def test_wrong_token_is_refused_and_stores_nothing(client, sessions):
    answer = await intake(client, handoff_body(), token="nope")
    assert answer.status == 401
    assert answer.body["error"] == "unauthorized"
    assert (await intake(client, handoff_body(), token=None)).status == 401
    assert await counts(sessions) == (0, 0, 0)


async def test_bad_bodies_are_refused_and_store_nothing(client, sessions):
    headers = {"Idempotency-Key": "k", "Authorization": f"Bearer {API_TOKEN}"}
    malformed = await client.post("/api/v1/handoffs", data="{not json", headers=headers)
    assert malformed.status == 400
    assert set(malformed.body) == {"error", "message"}
    body = handoff_body()
    del body["team"]
    missing = await intake(client, body)
    assert missing.status == 400 and "team" in missing.body["message"]
    wrong = await intake(client, handoff_body(priority={"level": 9}))
    assert wrong.status == 422
    no_key = await client.post("/api/v1/handoffs", json=handoff_body(), token=API_TOKEN)
    assert no_key.status == 400 and no_key.body["error"] == "missing_idempotency_key"
    huge = await intake(client, handoff_body(triage={"description": "x" * (1024 * 1024)}))
    assert huge.status == 413
    assert await counts(sessions) == (0, 0, 0)
