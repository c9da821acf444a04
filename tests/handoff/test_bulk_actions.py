"""Crisis tools (handoff/services/bulk_actions.py): a filter selects open conversations; a tag,
a move, one reply or a resolution reaches all of them in one action, recorded in the audit log;
tags and moves are undone where they still hold; bad input changes nothing; only supervisors
(HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from handoff.errors import Conflict, Invalid
from handoff.models import CsatSurvey, KpiAlert
from handoff.roles import Role
from handoff.services.bulk_actions import BulkActionService
from harness.handoff_data import make_agent, make_team
from tests.handoff import lifecycle_world
from tests.handoff.lifecycle_world import as_principal

world = lifecycle_world.world  # the fixture
OUTAGE = "the app shows error 503"


@pytest.fixture
async def crisis(world, sessions):
    """Three open billing conversations: two about the outage (one on WhatsApp), one not."""
    boss = await make_agent(sessions, Role.SUPERVISOR, name="Sam Boss", teams=("billing",))
    await make_team(sessions, "devices")
    outage_web = await world.queue.handoff(triage={"topic": "technical", "description": OUTAGE})
    outage_wa = await world.queue.handoff(  # no customer line on WhatsApp: its window is shut
        channel="whatsapp", triage={"topic": "technical", "description": OUTAGE}, transcript=[]
    )
    other = await world.queue.handoff()
    service = BulkActionService(sessions, world.queue.live, world.conversations)
    return service, as_principal(boss), (outage_web, outage_wa, other)


async def test_a_bulk_move_reroutes_the_selection_and_undo_brings_it_back(world, crisis):
    service, boss, (web, wa, other) = crisis
    preview = await service.preview({"text": "error 503"})
    assert preview["count"] == 2
    done = await service.run(
        boss, {"filter": {"text": "error 503"}, "action": "move", "team": "devices"}
    )
    assert sorted(done["conversation_ids"]) == sorted([web, wa]) and done["undoable"]
    for pk in (web, wa):
        assert (await world.queue.row(pk)).team == "devices"
    assert (await world.queue.row(other)).team == "billing"
    undone = await service.undo(done["id"], boss)
    assert (
        sorted(undone["restored"]) == sorted([web, wa])
        and undone["undone_by"]["name"] == "Sam Boss"
    )
    for pk in (web, wa):
        assert (await world.queue.row(pk)).team == "billing"
    with pytest.raises(Conflict, match="undone already"):
        await service.undo(done["id"], boss)
    [logged] = (await service.log())["bulk_actions"]
    assert logged["action"] == "move" and logged["filter"] == {"text": "error 503"}


async def test_a_bulk_tag_by_channel_and_time_is_undone_only_where_it_still_is(world, crisis):
    service, boss, (_, wa, _) = crisis
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    selection = {"channel": "whatsapp", "since": since}
    done = await service.run(boss, {"filter": selection, "action": "tag", "tag": "Outage-Dec"})
    assert done["conversation_ids"] == [wa]
    assert (await world.queue.row(wa)).tags == ["billing", "outage-dec"]
    again = await service.run(boss, {"filter": selection, "action": "tag", "tag": "outage-dec"})
    assert again["conversation_ids"] == [], "a tag already there is not added twice"
    undone = await service.undo(done["id"], boss)
    assert undone["restored"] == [wa] and (await world.queue.row(wa)).tags == ["billing"]


async def test_one_reply_reaches_all_where_the_window_allows(world, crisis):
    service, boss, (web, wa, _) = crisis
    text = "We know about the outage and are fixing it; no need to write again."
    done = await service.run(
        boss, {"filter": {"text": "error 503"}, "action": "reply", "text": text}
    )
    assert done["conversation_ids"] == [web]
    assert "WhatsApp allows free text only within 24 hours" in done["skipped"][wa]
    assert [d.text for d in world.delivery.sent if d.author_type == "agent"] == [text]
    with pytest.raises(Conflict, match="cannot be taken back"):
        await service.undo(done["id"], boss)


async def test_a_bulk_resolve_closes_the_selection_for_good(world, crisis, sessions):
    service, boss, (web, wa, other) = crisis
    dana = await make_agent(sessions, name="Dana", teams=("billing",))
    await world.conversations.claim(web, as_principal(dana))
    done = await service.run(boss, {"filter": {"text": "error 503"}, "action": "resolve"})
    assert sorted(done["conversation_ids"]) == sorted([web, wa]) and not done["undoable"]
    statuses = [(await world.queue.row(pk)).status for pk in (web, wa, other)]
    assert statuses == ["resolved", "resolved", "queued"]
    # Dana's customer is told who closed it; the queued one had nobody to name
    closing = [
        d for d in world.delivery.sent if d.text.endswith("Thank you for contacting Lumen Home!")
    ]
    assert [d.text.split()[0] for d in closing] == ["Dana"]
    async with sessions() as session:
        surveys = (await session.execute(select(CsatSurvey.conversation_id, CsatSurvey.rule))).all()
    assert sorted(surveys) == sorted([(web, "handled_by_person"), (wa, "handled_by_person")])
    with pytest.raises(Conflict, match="reopens theirs"):
        await service.undo(done["id"], boss)
    [logged] = (await service.log())["bulk_actions"]
    assert (logged["action"], logged["count"], logged["undoable"]) == ("resolve", 2, False)


async def test_a_resolve_on_a_version_changed_since_is_refused(world, crisis, sessions):
    _, boss, (_, _, other) = crisis
    seen = (await world.queue.row(other)).version
    dana = await make_agent(sessions, name="Dana", teams=("billing",))
    await world.conversations.claim(other, as_principal(dana))
    with pytest.raises(Conflict, match="changed meanwhile"):
        await world.conversations.resolve(other, boss, version=seen)
    assert (await world.queue.row(other)).status == "assigned"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {}, "action": "tag", "tag": "x"}, "filter needs"),
        ({"filter": {"text": 5}, "action": "tag", "tag": "x"}, "filter.text"),
        ({"filter": {"txt": "503"}, "action": "tag", "tag": "x"}, "filter.txt"),
        (
            {"filter": {"text": "503", "status": "resolved"}, "action": "tag", "tag": "x"},
            "filter.status",
        ),
        ({"filter": {"text": "503"}, "action": "delete"}, "action"),
        ({"filter": {"text": "503"}, "action": "tag", "tag": ""}, "tag"),
        ({"filter": {"text": "503"}, "action": "move", "team": "nowhere"}, "team"),
        ({"filter": {"text": "503"}, "action": "resolve", "survey": "no"}, "survey"),
        ({"filter": {"text": "503", "since": "yesterday"}, "action": "tag", "tag": "x"}, "since"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(world, crisis, body, field):
    service, boss, (web, _, _) = crisis
    before = (await world.queue.row(web)).version
    with pytest.raises(Invalid, match=field):
        await service.run(boss, body)
    assert (await world.queue.row(web)).version == before
    assert (await service.log())["bulk_actions"] == []


async def test_only_supervisors_may_use_the_crisis_tools(client, sessions):
    agent = await make_agent(sessions, teams=("billing",))
    body = {"filter": {"text": "503"}, "action": "tag", "tag": "x"}
    assert (await client.post("/api/v1/bulk-actions", json=body, token=agent.token)).status == 403
    boss = await make_agent(sessions, Role.SUPERVISOR)
    answer = await client.post("/api/v1/bulk-actions", json=body, token=boss.token)
    assert answer.status == 201 and answer.body["count"] == 0
    log = await client.get("/api/v1/bulk-actions", token=boss.token)
    assert log.body["bulk_actions"][0]["by"]["id"] == boss.id


async def test_the_conversations_of_an_alert_move_to_a_team_in_one_action(world, crisis, sessions):
    service, boss, (web, wa, other) = crisis
    async with sessions.begin() as session:
        alert = KpiAlert(
            kind="sla_breached",
            team="billing",
            opened_at=datetime.now(timezone.utc),
            summary="2 conversation(s) past their SLA",
            conversation_ids=[web, other],
        )
        session.add(alert)
        await session.flush()
        alert_id = str(alert.id)
    preview = await service.preview({"alert": alert_id})
    assert preview["count"] == 2
    assert {c["id"] for c in preview["conversations"]} == {web, other}
    done = await service.run(
        boss, {"filter": {"alert": alert_id}, "action": "move", "team": "devices"}
    )
    assert sorted(done["conversation_ids"]) == sorted([web, other])
    assert [(await world.queue.row(pk)).team for pk in (web, wa, other)] == [
        "devices",
        "billing",
        "devices",
    ]
    assert (await service.undo(done["id"], boss))["restored"]
    for wrong in ("999999", "first"):
        with pytest.raises(Invalid, match=r"filter\.alert"):
            await service.run(
                boss, {"filter": {"alert": wrong}, "action": "move", "team": "devices"}
            )
    assert (await world.queue.row(wa)).team == "billing"
