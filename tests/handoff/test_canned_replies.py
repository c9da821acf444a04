"""Canned replies: supervisors edit a library per team, agents find a reply and get it filled for
the conversation at hand (never sent by itself), and a wrong library entry is named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.cli import main as cli
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.canned_replies import LIBRARY_FILE, load_library
from harness.handoff_data import make_agent, make_conversation, make_team

pytestmark = pytest.mark.one_store  # the library and its placeholders: not the database

LIBRARY = "/api/v1/canned-replies"
REFUND = {
    "title": "Refund confirmed",
    "team": "billing",
    "shortcut": "refund",
    "text": "Hi {customer_first_name}, the refund for {order_reference} is on its way."
    " {agent_name}",
}


@pytest.fixture
async def boss(sessions):
    """A supervisor; the billing team exists."""
    await make_team(sessions, "billing")
    return await make_agent(sessions, Role.SUPERVISOR)


async def test_a_supervisor_writes_a_reply_and_an_agent_inserts_it_filled(client, sessions, boss):
    dana = await make_agent(sessions, name="Dana Berg", teams=("billing",))
    created = await client.post(LIBRARY, json=REFUND, token=boss.token)
    assert created.status == 201
    assert created.body["placeholders"] == ["agent_name", "customer_first_name", "order_reference"]
    conversation = await make_conversation(
        sessions, customer={"id": "c-1", "name": "Maria Lopez", "language": "en"}
    )

    found = await client.get(f"{LIBRARY}?q=REFUND", token=dana.token)
    assert [reply["title"] for reply in found.body["replies"]] == ["Refund confirmed"]
    path = f"/api/v1/conversations/{conversation['id']}/canned-replies/{created.body['id']}"
    filled = await client.get(path, token=dana.token)

    assert filled.status == 200
    assert filled.body == {
        "id": created.body["id"],
        "text": "Hi Maria, the refund for ACC-482913 is on its way. Dana",
        "missing": [],
    }
    detail = await client.get(f"/api/v1/conversations/{conversation['id']}", token=dana.token)
    assert [m["author_type"] for m in detail.body["messages"]] == ["customer", "bot"]


async def test_a_value_the_conversation_lacks_is_marked_for_the_agent_to_complete(
    client, sessions, boss
):
    reply = (await client.post(LIBRARY, json=REFUND, token=boss.token)).body
    conversation = await make_conversation(
        sessions,
        triage={"topic": "billing", "description": "?", "reference": None, "mode_preference": None},
    )
    path = f"/api/v1/conversations/{conversation['id']}/canned-replies/{reply['id']}"
    filled = (await client.get(path, token=boss.token)).body
    assert "[order reference]" in filled["text"]
    assert "[customer first name]" in filled["text"]
    assert filled["missing"] == ["customer_first_name", "order_reference"]


async def test_agents_see_their_teams_replies_and_everyone_s(client, sessions, boss):
    await make_team(sessions, "devices")
    lee = await make_agent(sessions, teams=("devices",))
    billing = (await client.post(LIBRARY, json=REFUND, token=boss.token)).body
    everyone = {"title": "Still there?", "text": "Are you still with us?"}
    assert (await client.post(LIBRARY, json=everyone, token=boss.token)).status == 201

    seen = await client.get(LIBRARY, token=lee.token)
    assert [reply["title"] for reply in seen.body["replies"]] == ["Still there?"]
    assert (await client.get(f"{LIBRARY}?team=billing", token=lee.token)).status == 403
    conversation = await make_conversation(sessions)
    path = f"/api/v1/conversations/{conversation['id']}/canned-replies/{billing['id']}"
    assert (await client.get(path, token=lee.token)).status == 403
    all_titles = await client.get(LIBRARY, token=boss.token)
    assert len(all_titles.body["replies"]) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "Hello {customer_nickname}"}, "customer_nickname"),
        ({"text": "Hello {customer_first_name"}, "stray brace"),
        ({"shortcut": "Has Spaces"}, "shortcut"),
        ({"title": ""}, "title"),
        ({"team": "nowhere"}, "nowhere"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_wrong_reply_is_refused_naming_the_field_and_nothing_changes(
    client, sessions, boss, change, field
):
    stored = (await client.post(LIBRARY, json=REFUND, token=boss.token)).body
    answer = await client.request(
        "PUT", f"{LIBRARY}/{stored['id']}", json={**REFUND, **change}, token=boss.token
    )
    assert answer.status == 422
    assert field in answer.body["message"]
    assert (await client.get(LIBRARY, token=boss.token)).body["replies"] == [stored]


async def test_only_supervisors_edit_the_library(client, sessions, boss):
    dana = await make_agent(sessions, teams=("billing",))
    assert (await client.post(LIBRARY, json=REFUND, token=dana.token)).status == 403
    reply = (await client.post(LIBRARY, json=REFUND, token=boss.token)).body
    edited = {**REFUND, "text": "Your refund for {order_reference} is done."}
    assert (
        await client.request("PUT", f"{LIBRARY}/{reply['id']}", json=edited, token=dana.token)
    ).status == 403
    changed = await client.request("PUT", f"{LIBRARY}/{reply['id']}", json=edited, token=boss.token)
    assert changed.body["text"] == edited["text"]
    removed = await client.request("DELETE", f"{LIBRARY}/{reply['id']}", token=boss.token)
    assert removed.status == 204
    assert (await client.get(LIBRARY, token=boss.token)).body["replies"] == []
    assert (await client.get(LIBRARY)).status == 401


def test_the_shipped_library_is_valid():
    assert len(load_library(LIBRARY_FILE)) >= 5


def test_a_wrong_library_entry_is_named_by_number_title_and_field(tmp_path: Path):
    path = tmp_path / "replies.yml"
    path.write_text(
        "replies:\n  - title: Fine\n    text: ok\n  - title: Broken\n    text: Hi {nickname}\n"
    )
    with pytest.raises(Invalid) as refused:
        load_library(path)
    assert "reply 2 ('Broken'): text: Unknown placeholder(s) nickname" in refused.value.message


def test_importing_twice_updates_instead_of_duplicating(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli(["seed-demo"]) == 0
    assert cli(["import-canned-replies"]) == 0
    output = capsys.readouterr().out
    count = len(load_library(LIBRARY_FILE))
    assert f"{count} created, 0 updated" in output
    assert f"0 created, {count} updated" in output
