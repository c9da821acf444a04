"""Conversation search: each filter finds what an agent looks for and nothing else, filters
combine, pages are stable while new conversations arrive, and wrong parameters are named."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from harness.handoff_data import make_agent, make_conversation, make_team

SEARCH = "/api/v1/conversations/search"


async def found(client, token, **params) -> list[str]:
    answer = await client.get(f"{SEARCH}?{urlencode(params)}", token=token)
    assert answer.status == 200, answer.body
    return [c["id"] for c in answer.body["conversations"]]


@pytest.fixture
async def three(sessions):
    """A billing dispute, a device problem with a VIP tag, an order question (newest last)."""
    await make_team(sessions, "devices")
    billing = await make_conversation(
        sessions, customer={"id": "wa-4915", "name": "Maria Lopez", "language": "en"}
    )
    devices = await make_conversation(
        sessions,
        team="devices",
        tags=["devices", "VIP"],
        triage={
            "topic": "device_problem",
            "description": "hub offline since the storm",
            "reference": None,
            "mode_preference": "async",
            "device_name": "hub",
        },
    )
    orders = await make_conversation(
        sessions,
        tags=["orders"],
        triage={
            "topic": "order_status",
            "description": "where is my parcel",
            "reference": "ORD-77120",
            "mode_preference": "sync",
            "device_name": None,
        },
    )
    return billing["id"], devices["id"], orders["id"]


async def test_each_filter_finds_its_conversation(client, sessions, three):
    billing, devices, orders = three
    agent = await make_agent(sessions)
    token = agent.token
    assert await found(client, token) == [orders, devices, billing]
    assert await found(client, token, text="CHARGED TWICE") == [orders, devices, billing]
    assert await found(client, token, text="storm") == [devices]
    assert await found(client, token, customer="lopez") == [billing]
    assert await found(client, token, customer="wa-49") == [billing]
    assert await found(client, token, reference="ord-771") == [orders]
    assert await found(client, token, tag="vip") == [devices]
    assert await found(client, token, tag="vi") == [], "a tag matches whole, not a prefix"
    assert await found(client, token, team="devices") == [devices]
    assert await found(client, token, text="100%_") == [], "LIKE wildcards are literal"
    assert await found(client, token, team="billing", reference="ORD") == [orders]


async def test_status_agent_and_dates(client, sessions, three):
    billing, devices, orders = three
    dana = await make_agent(sessions, teams=("billing",))
    token = dana.token
    await client.post(f"/api/v1/conversations/{billing}/claim", token=token)
    await client.post(f"/api/v1/conversations/{devices}/claim", token=token)
    await client.post(f"/api/v1/conversations/{devices}/release", token=token)
    assert await found(client, token, status="assigned") == [billing]
    assert await found(client, token, status="queued,assigned") == [orders, devices, billing]
    assert await found(client, token, agent_id=dana.id) == [devices, billing]
    now = datetime.now(timezone.utc)
    future = (now + timedelta(hours=1)).isoformat()
    past = (now - timedelta(hours=1)).isoformat()
    assert await found(client, token, since=future) == []
    assert await found(client, token, since=past, until=future) == [orders, devices, billing]


async def test_pages_are_stable_while_new_conversations_arrive(client, sessions, three):
    billing, devices, orders = three
    agent = await make_agent(sessions)
    first = await client.get(f"{SEARCH}?limit=2", token=agent.token)
    assert [c["id"] for c in first.body["conversations"]] == [orders, devices]
    newer = await make_conversation(sessions)
    cursor = first.body["next"]
    second = await client.get(f"{SEARCH}?limit=2&cursor={cursor}", token=agent.token)
    assert [c["id"] for c in second.body["conversations"]] == [billing]
    assert second.body["next"] is None
    assert (await found(client, agent.token, limit="1"))[0] == newer["id"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=closed", "status"),
        ("since=yesterday", "since"),
        ("since=2026-12-01T10:00:00", "time zone"),
        ("since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "before"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-ours", "cursor"),
        (f"text={'x' * 201}", "text"),
    ],
)
async def test_a_wrong_parameter_is_named(client, sessions, query, named):
    agent = await make_agent(sessions)
    answer = await client.get(f"{SEARCH}?{query}", token=agent.token)
    assert answer.status == 422
    assert named in answer.body["message"]


async def test_search_needs_a_signed_in_agent(client):
    assert (await client.get(SEARCH)).status == 401
