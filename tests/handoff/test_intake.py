"""Intake (POST /api/v1/handoffs): idempotency, updates of a queued conversation, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handoff.models import Conversation, IntakeRequest, Message
from harness.handoff_data import handoff_body
from tests.handoff.conftest import API_TOKEN
from tests.handoff.test_fuzz_ingest import JSON


async def counts(sessions) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Conversation)),
            await session.scalar(select(func.count()).select_from(Message)),
            await session.scalar(select(func.count()).select_from(IntakeRequest)),
        )


# The bot's body, fixed (hypothesis replays examples: no clock, no random ids in it).
BOT_BODY = handoff_body("fuzzed-sender", requested_at="2026-12-01T09:00:00.000Z")
for _line_ in BOT_BODY["transcript"]:
    _line_["timestamp"] = "2026-12-01T08:59:00.000Z"
PATHS = [
    *[(name,) for name in BOT_BODY],
    *[("priority", name) for name in ("level", "name", "first_response_minutes")],
    *[("customer", name) for name in ("id", "name", "language")],
    *[("triage", name) for name in BOT_BODY["triage"]],
    *[("transcript", 0, name) for name in BOT_BODY["transcript"][0]],
    ("transcript", 1, "author_type"),
    ("transcript", 0),
]
EDGES = st.sampled_from(
    [10**30, 2**31, -1, 1e20, "yesterday", "9999-12-31T23:59:59-05:00", "\x00", "x" * 300]
)


@st.composite
def intake_bodies(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    body = copy.deepcopy(BOT_BODY)
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        *parents, last = path
        value = draw(JSON | EDGES)
        with contextlib.suppress(LookupError, TypeError):  # an earlier change removed the parent
            target = body
            for step in parents:
                target = target[step]
            target[last] = value
    return body


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


def _line(**changes):
    body = handoff_body()
    return {**body, "transcript": [{**body["transcript"][0], **changes}]}


HOSTILE = [  # each answered 500 on main (PostgreSQL, SQLite or both), or was stored cut short
    ("huge minutes", {"priority": {"level": 2, "first_response_minutes": 10**30}}, "priority"),
    ("minutes beyond a column", {"priority": {"level": 2, "first_response_minutes": 2**40}}, ""),
    ("year 10000", {"requested_at": "9999-12-31T23:00:00-05:00"}, "requested_at"),
    ("far future line", _line(timestamp=1e20), "transcript[0].timestamp"),
    ("object author", _line(author_name={"name": "Dana"}), "transcript[0].author_name"),
    ("object message id", _line(message_id={"id": 1}), "transcript[0].message_id"),
    ("long message id", _line(message_id="m" * 300), "transcript[0].message_id"),
    ("long author type", _line(author_type="customer" * 10), "transcript[0].author_type"),
    ("long topic", {"triage": {"topic": "t" * 60}}, "triage.topic"),
    ("long team", {"team": "t" * 65}, "team"),
    ("long customer name", {"customer": {"name": "n" * 201}}, "customer.name"),
    ("nul in text", _line(text="card \x00 number"), "transcript[0].text"),
    ("huge score", {"frustration": {"score": 10**400, "signals": []}}, "frustration.score"),
    ("string level", {"priority": {"level": "2"}}, "priority.level"),
]


@pytest.mark.parametrize(("label", "change", "field"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_values_are_422_naming_the_field_and_store_nothing(
    client, sessions, label, change, field
):
    answer = await intake(client, {**handoff_body(), **change})

    assert answer.status == 422, answer.body
    assert answer.body["error"] == "invalid_field"
    assert answer.body["message"].startswith(field or "priority.first_response_minutes")
    assert await counts(sessions) == (0, 0, 0)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=intake_bodies())
async def test_no_body_gets_a_server_error(client, body):
    """Arbitrary bodies, and the bot's body with fields replaced by arbitrary JSON, through the
    HTTP API on SQLite and PostgreSQL: never a 5xx."""
    answer = await intake(client, body)
    assert answer.status < 500, answer.body
    assert answer.status in (200, 201) or set(answer.body) == {"error", "message"}
