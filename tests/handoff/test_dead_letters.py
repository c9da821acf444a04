"""Dead letters through the admin API: listed with a count, retried through the same mapping,
discarded; only admins see them."""

from __future__ import annotations

import pytest

from handoff.live import LocalBroadcaster
from handoff.roles import Role
from handoff.services.sink import EventSink
from harness.handoff_data import bot_event, make_agent, user_event
from tests.handoff.refusal import refusing
from tests.handoff.test_sink import transcript

T0 = 1_795_000_000.0
SOURCE = "sql:sqlite:///rasa-events.sqlite3"


async def set_aside(sessions) -> None:
    """Two events the database refuses while `refusing` holds, and one that never fits."""
    sink = EventSink(sessions, LocalBroadcaster())
    async with refusing(sessions, "refused"):
        await sink.store(
            [
                user_event("kay", "refused", T0, "k-1"),
                bot_event("kay", "refused", T0 + 1),
                user_event("kay", "when?", "yesterday", "k-2"),
                user_event("kay", "stored", T0 + 2, "k-3"),
            ],
            source=SOURCE,
        )


@pytest.fixture
async def admin(sessions) -> str:
    return (await make_agent(sessions, Role.ADMIN)).token


async def test_admins_list_dead_letters_with_a_count_and_others_cannot(client, sessions, admin):
    await set_aside(sessions)
    supervisor = await make_agent(sessions, Role.SUPERVISOR)

    listed = await client.get("/api/v1/dead-letters?limit=2", token=admin)
    refused = await client.get("/api/v1/dead-letters", token=supervisor.token)
    anonymous = await client.get("/api/v1/dead-letters")

    assert listed.status == 200
    assert listed.body["count"] == 3
    first, second = listed.body["dead_letters"]
    assert (first["source"], first["conversation_id"], first["event_type"]) == (
        SOURCE,
        "kay",
        "user",
    )
    assert first["status"] == "open" and first["attempts"] == 1 and not first["truncated"]
    assert "refused by the test" in first["error"]
    assert second["event_type"] == "bot"
    assert first["first_seen_at"] == first["last_seen_at"]
    rest = await client.get("/api/v1/dead-letters?limit=2&offset=2", token=admin)
    assert [letter["error"].split(":")[0] for letter in rest.body["dead_letters"]] == ["timestamp"]
    assert (refused.status, anonymous.status) == (403, 401)


@pytest.mark.parametrize(
    "query", ["status=gone", "limit=0", "limit=201", "limit=x", "offset=-1", "offset=9" * 20]
)
async def test_bad_list_parameters_are_422(client, admin, query):
    answer = await client.get(f"/api/v1/dead-letters?{query}", token=admin)
    assert answer.status == 422 and answer.body["error"] == "invalid_field"


async def test_a_retry_after_the_cause_is_fixed_stores_the_event_and_resolves_it(
    client, sessions, admin
):
    await set_aside(sessions)
    (letter, *_) = (await client.get("/api/v1/dead-letters", token=admin)).body["dead_letters"]

    async with refusing(sessions, "refused"):
        again = await client.post(f"/api/v1/dead-letters/{letter['id']}/retry", token=admin)
    assert again.status == 200
    assert (again.body["status"], again.body["attempts"]) == ("open", 2)
    assert await transcript(sessions, "kay") == [("customer", "stored")]

    fixed = await client.post(f"/api/v1/dead-letters/{letter['id']}/retry", token=admin)
    assert fixed.status == 200
    assert (fixed.body["status"], fixed.body["attempts"]) == ("resolved", 3)
    assert await transcript(sessions, "kay") == [("customer", "refused"), ("customer", "stored")]
    twice = await client.post(f"/api/v1/dead-letters/{letter['id']}/retry", token=admin)
    assert twice.status == 409
    remaining = await client.get("/api/v1/dead-letters", token=admin)
    assert remaining.body["count"] == 2


async def test_retry_all_stores_what_now_fits_and_keeps_the_rest_open(client, sessions, admin):
    await set_aside(sessions)

    answer = await client.post("/api/v1/dead-letters/retry", token=admin)

    assert answer.status == 200
    assert answer.body == {"retried": 3, "resolved": 2, "still_open": 1}
    assert await transcript(sessions, "kay") == [
        ("customer", "refused"),
        ("bot", "refused"),
        ("customer", "stored"),
    ]
    (still_open,) = (await client.get("/api/v1/dead-letters", token=admin)).body["dead_letters"]
    assert still_open["error"].startswith("timestamp:") and still_open["attempts"] == 2
    resolved = await client.get("/api/v1/dead-letters?status=resolved", token=admin)
    assert resolved.body["count"] == 2


async def test_a_discarded_letter_is_kept_but_never_retried(client, sessions, admin):
    await set_aside(sessions)
    (letter, *_) = (await client.get("/api/v1/dead-letters", token=admin)).body["dead_letters"]

    discarded = await client.post(f"/api/v1/dead-letters/{letter['id']}/discard", token=admin)
    retried = await client.post(f"/api/v1/dead-letters/{letter['id']}/retry", token=admin)
    again = await client.post(f"/api/v1/dead-letters/{letter['id']}/discard", token=admin)

    assert discarded.status == 200 and discarded.body["status"] == "discarded"
    assert (retried.status, again.status) == (409, 409)
    kept = await client.get("/api/v1/dead-letters?status=discarded", token=admin)
    assert [row["id"] for row in kept.body["dead_letters"]] == [letter["id"]]
    assert await transcript(sessions, "kay") == [("customer", "stored")]


@pytest.mark.parametrize("letter_id", ["12345", "9" * 30, "0"])
async def test_unknown_letters_are_404(client, admin, letter_id):
    for action in ("retry", "discard"):
        answer = await client.post(f"/api/v1/dead-letters/{letter_id}/{action}", token=admin)
        assert answer.status == 404
