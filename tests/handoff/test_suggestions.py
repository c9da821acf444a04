"""Suggested responses: approved answers and replies mined from resolved conversations, ranked
for the conversation at hand, learning from what agents do with them (docs/suggestions.md)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from handoff.models import SuggestionEntry
from handoff.roles import Role
from handoff.services.canned_replies import CannedReplyService
from handoff.services.suggestion_scrub import scrub
from handoff.services.suggestions import SuggestionService, edit_distance
from harness.handoff_data import make_agent, make_team
from harness.past_conversations import Past, store_past

HISTORY = [
    Past(
        "billing",
        [
            ("customer", "Hello, you took the money for order LH30571122 two times"),
            ("agent", "Hi Maria, I see both payments for LH30571122 and refunded the second."),
        ],
        customer_name="Maria Lopez",
        reference="LH30571122",
        team="billing",
        agent_name="Dana Berg",
    ),
    Past(
        "technical",
        [
            ("customer", "the Lumen Hub is offline again and the app cannot find it"),
            ("agent", "Sorry Jonas. Unplug the hub for half a minute, then check the light."),
        ],
        customer_name="Jonas Weber",
        device="Lumen Hub",
        team="devices",
    ),
    Past(
        "order",
        [
            ("customer", "my parcel never came and tracking has not moved for a week"),
            ("agent", "I asked the courier to trace it; write to me at dana.berg@lumen.example"),
        ],
        team="orders",
    ),
]
LIBRARY = [
    {
        "title": "Second charge reversed",
        "topics": ["billing"],
        "text": "Thanks for waiting, {customer_first_name}. I found the second charge for"
        " {order_reference} and reversed it; it shows within five working days.",
    },
    {
        "title": "Hub offline, first steps",
        "topics": ["technical"],
        "text": "Let's get your {device} online again: unplug it for 30 seconds, plug it back"
        " in and wait for a steady blue light.",
    },
    {
        "title": "Password reset link",
        "topics": ["account"],
        "text": "I've sent a reset link to the e-mail address on your account.",
    },
]
OPEN_BILLING = Past(
    "billing",
    [("customer", "I paid twice for LH55512345, please give one payment back")],
    customer_name="Paul Meyer",
    reference="LH55512345",
    status="assigned",
)


@pytest.fixture
async def boss(sessions):
    for team in ("billing", "devices", "orders"):
        await make_team(sessions, team)
    return await make_agent(sessions, Role.SUPERVISOR, name="Sam Boss")


@pytest.fixture
async def library(sessions, boss) -> dict[str, str]:
    canned = CannedReplyService(sessions)
    return {
        reply["title"]: reply["id"] for reply in [await canned.create(boss, r) for r in LIBRARY]
    }


@pytest.fixture
async def service(sessions, library) -> SuggestionService:
    await store_past(sessions, HISTORY)
    service = SuggestionService(sessions, CannedReplyService(sessions))
    assert await service.mine() == 3
    await service.refresh()
    return service


async def open_conversation(sessions, past: Past = OPEN_BILLING) -> str:
    return (await store_past(sessions, [past]))[0]


async def test_the_approved_answer_for_the_topic_comes_first(sessions, service, boss):
    billing = await service.suggest(boss, await open_conversation(sessions))
    hub = Past(
        "technical", [("customer", "my hub shows offline since this morning")], device="Lumen Hub"
    )
    technical = await service.suggest(boss, await open_conversation(sessions, hub))

    assert billing[0]["title"] == "Second charge reversed"
    assert billing[0]["source"] == "approved"
    assert billing[0]["text"].startswith(
        "Thanks for waiting, Paul. I found the second charge for LH55512345"
    )
    assert "same topic: billing" in billing[0]["why"]
    assert technical[0]["title"] == "Hub offline, first steps"
    assert "Lumen Hub online again" in technical[0]["text"]
    assert len(billing) <= 3 and len(technical) <= 3


async def test_a_mined_reply_is_filled_for_the_new_customer_never_with_the_old_one_s_details(
    sessions, service, boss
):
    parcel = Past(
        "order",
        [("customer", "my parcel LH55512345 still has not come, the tracking is stuck")],
        customer_name="Paul Meyer",
        reference="LH55512345",
        status="assigned",
    )
    shown = await service.suggest(boss, await open_conversation(sessions, parcel))
    shown += await service.suggest(boss, await open_conversation(sessions))

    assert shown[0]["source"] == "mined"
    assert shown[0]["text"] == "I asked the courier to trace it; write to me at [email address]"
    everything = " ".join(item["text"] + " ".join(item["why"]) for item in shown)
    for detail in ("Maria", "Lopez", "LH30571122", "Dana", "Jonas", "dana.berg"):
        assert detail not in everything


async def test_two_mining_rounds_at_once_store_each_reply_once(sessions, library):
    await store_past(sessions, HISTORY)
    rounds = [SuggestionService(sessions, CannedReplyService(sessions)) for _ in range(2)]
    mined = await asyncio.gather(*(service.mine() for service in rounds))
    assert sorted(mined) == [0, 3]  # the later round finds the work done and stores nothing
    assert await rounds[0].mine() == 0
    async with sessions() as session:
        entries = (await session.scalars(select(SuggestionEntry.message_id))).all()
    assert len(entries) == len(set(entries)) == 3


def test_personal_details_become_placeholders_or_masks():
    text = scrub(
        "Hi Ana, order LH20481937 is refunded; mail ana.silva@example.com or call +44 20 7946"
        " 0958. Dana",
        customer_name="Ana Silva",
        agent_names=["Dana Berg"],
    )
    assert text == (
        "Hi {customer_first_name}, order {order_reference} is refunded; mail [email address] or"
        " call [phone number]. {agent_name}"
    )


async def test_dismissing_a_suggestion_for_a_topic_moves_it_down(
    client, app, sessions, boss, library
):
    await store_past(sessions, HISTORY)
    await app.ctx.suggestions.mine()
    await app.ctx.suggestions.refresh()
    first = None
    for _ in range(4):
        pk = await open_conversation(sessions)
        shown = (await client.get(f"/api/v1/conversations/{pk}/suggestions", token=boss.token)).body
        first = first or shown["suggestions"][0]["id"]
        if shown["suggestions"][0]["id"] != first:
            break
        answer = await client.post(
            f"/api/v1/conversations/{pk}/suggestions/feedback",
            json={"suggestion": first, "outcome": "dismissed"},
            token=boss.token,
        )
        assert answer.body == {"suggestion": first, "outcome": "rejected", "edit_distance": None}

    assert first == f"approved:{library['Second charge reversed']}"
    assert shown["suggestions"][0]["id"] != first
    assert any("dismissed" in reason for item in shown["suggestions"] for reason in item["why"])


async def test_sent_suggestions_count_as_used_or_edited_and_frequent_ones_are_proposed(
    client, app, sessions, boss
):
    await store_past(sessions, HISTORY)
    await app.ctx.suggestions.mine()
    await app.ctx.suggestions.refresh()
    outcomes = []
    for edit in ("", "", " Anything else?", ""):
        pk = await open_conversation(sessions)
        shown = (await client.get(f"/api/v1/conversations/{pk}/suggestions", token=boss.token)).body
        mined = next(item for item in shown["suggestions"] if item["source"] == "mined")
        answer = await client.post(
            f"/api/v1/conversations/{pk}/suggestions/feedback",
            json={"suggestion": mined["id"], "outcome": "sent", "text": mined["text"] + edit},
            token=boss.token,
        )
        outcomes.append((answer.body["outcome"], answer.body["edit_distance"]))
    proposals = (await client.get("/api/v1/suggestions/proposals", token=boss.token)).body

    assert outcomes == [("used", 0), ("used", 0), ("edited", 15), ("used", 0)]
    assert [(p["id"], p["used_unchanged"]) for p in proposals["proposals"]] == [(mined["id"], 3)]
    assert proposals["proposals"][0]["text"].startswith("Hi {customer_first_name}, I see both")

    entry = mined["id"].removeprefix("mined:")
    added = await client.post(
        f"/api/v1/suggestions/proposals/{entry}/approve",
        json={"title": "Double payment refunded"},
        token=boss.token,
    )
    assert added.status == 201
    assert added.body["topics"] == ["billing"] and added.body["team"] == "billing"
    assert (await client.get("/api/v1/suggestions/proposals", token=boss.token)).body == {
        "proposals": []
    }


async def test_the_index_learns_a_reply_once_its_conversation_resolves(settings, sessions, boss):
    from dataclasses import replace

    import aiohttp

    from handoff.app import create_app
    from harness.service import ApiClient, eventually, serving

    app = create_app(replace(settings, suggestion_index_seconds=0.2))
    parcel = Past(
        "order",
        [("customer", "the courier left my Glowstrip parcel at the wrong address")],
        status="assigned",
    )
    async with serving(app) as url, aiohttp.ClientSession() as http:
        client = ApiClient(http, url)
        pk = await open_conversation(sessions, parcel)
        path = f"/api/v1/conversations/{pk}/suggestions"
        assert (await client.get(path, token=boss.token)).body == {"suggestions": []}

        await store_past(
            sessions,
            [
                Past(
                    "order",
                    [
                        ("customer", "my Glowstrip parcel went to the wrong house"),
                        ("agent", "I've asked the courier to collect the Glowstrip parcel again."),
                    ],
                )
            ],
        )

        async def learned() -> bool:
            found = (await client.get(path, token=boss.token)).body["suggestions"]
            return any("courier to collect the Glowstrip" in item["text"] for item in found)

        await eventually(learned)
        found = (await client.get(path, token=boss.token)).body["suggestions"]
        shares = [why for item in found for why in item["why"] if why.startswith("shares:")]
        assert any("glowstrip" in why for why in shares), found


async def test_suggestions_need_a_login_and_feedback_is_validated(client, sessions, boss):
    agent = await make_agent(sessions, teams=("billing",))
    pk = await open_conversation(sessions)
    path = f"/api/v1/conversations/{pk}/suggestions"
    feedback = f"{path}/feedback"

    assert (await client.get(path)).status == 401
    assert (await client.get("/api/v1/suggestions/proposals", token=agent.token)).status == 403
    missing = await client.get("/api/v1/conversations/nope/suggestions", token=agent.token)
    assert missing.status == 404
    bad = await client.post(
        feedback, json={"suggestion": "mined:" + "0" * 32, "outcome": "maybe"}, token=agent.token
    )
    assert bad.status == 422 and bad.body["message"].startswith("outcome:")
    no_text = await client.post(
        feedback, json={"suggestion": "mined:" + "0" * 32, "outcome": "sent"}, token=agent.token
    )
    assert no_text.status == 422 and no_text.body["message"].startswith("text:")
    unseen = await client.post(
        feedback,
        json={"suggestion": "mined:" + "0" * 32, "outcome": "dismissed"},
        token=agent.token,
    )
    assert unseen.status == 422 and unseen.body["message"].startswith("suggestion:")


async def test_an_anonymised_conversation_s_replies_are_no_longer_suggested(
    sessions, service, boss
):
    from datetime import timedelta

    from handoff.models import utc_now
    from handoff.services.retention import RetentionPolicy, apply_retention

    parcel = Past("order", [("customer", "my parcel never arrived and tracking is stuck")])
    before = await service.suggest(boss, await open_conversation(sessions, parcel))
    assert any("courier to trace it" in item["text"] for item in before)

    await apply_retention(sessions, RetentionPolicy(1, "anonymise"), utc_now() + timedelta(days=3))
    after = await service.suggest(boss, await open_conversation(sessions, parcel))
    assert not any("courier to trace it" in item["text"] for item in after)


def test_edit_distance_counts_character_edits():
    assert edit_distance("refund sent", "refund sent") == 0
    assert edit_distance("refund sent", "refunds sent!") == 2
    assert edit_distance("", "abc") == 3
