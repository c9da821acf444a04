"""Transcript exports: JSON, CSV and a printable HTML page, with or without internal notes,
escaped for the browser and defused for spreadsheets, and recorded in the history."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

from contracts.values import format_time as iso
from handoff.repositories import History
from harness.handoff_data import handoff_body, make_agent

HOSTILE = '<script>alert("x")</script> & =HYPERLINK("http://evil.example","click")'


async def exported(api, path: str, token: str) -> tuple[int, dict[str, str], str]:
    async with api.http.get(
        api.base_url + path, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, dict(response.headers), await response.text()


async def a_conversation_with_a_note(client, sessions) -> tuple[dict, object]:
    agent = await make_agent(sessions, name="Dana <b>Ops</b>", teams=("billing",))
    body = handoff_body()
    body["transcript"][0]["text"] = HOSTILE
    body["transcript"][0]["timestamp"] = iso(datetime.now(timezone.utc) - timedelta(minutes=5))
    answer = await client.post(
        "/api/v1/handoffs",
        json=body,
        token="test-intake-token",
        headers={"Idempotency-Key": "export-1"},
    )
    conversation = answer.body
    path = f"/api/v1/conversations/{conversation['id']}"
    assert (await client.post(f"{path}/claim", token=agent.token)).status == 200
    note = await client.post(f"{path}/notes", json={"text": "-2 refund, VIP"}, token=agent.token)
    assert note.status == 201
    return conversation, agent


async def test_json_export_with_and_without_notes(client, sessions):
    conversation, agent = await a_conversation_with_a_note(client, sessions)
    base = f"/api/v1/conversations/{conversation['id']}/export"
    status, headers, text = await exported(client, f"{base}?format=json", agent.token)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert f'filename="conversation-{conversation["id"]}.json"' in headers["Content-Disposition"]
    plain = json.loads(text)
    assert "notes" not in plain
    assert plain["messages"][0]["text"] == HOSTILE
    assert plain["conversation"]["id"] == conversation["id"]
    assert plain["exported_by"] == {"id": agent.id, "name": agent.name}
    _, _, text = await exported(client, f"{base}?format=json&notes=true", agent.token)
    assert [n["text"] for n in json.loads(text)["notes"]] == ["-2 refund, VIP"]
    async with sessions() as session:
        actions = [(row.action, row.note) for row in await History(session).of(conversation["id"])]
    assert actions[-2:] == [
        ("transcript_exported", "json, without internal notes"),
        ("transcript_exported", "json, with internal notes"),
    ]


async def test_csv_export_defuses_formulas_and_lists_notes_in_time_order(client, sessions):
    conversation, agent = await a_conversation_with_a_note(client, sessions)
    base = f"/api/v1/conversations/{conversation['id']}/export?format=csv"
    status, headers, text = await exported(client, f"{base}&notes=true", agent.token)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["kind"] for row in rows] == ["message"] * (len(rows) - 1) + ["internal note"]
    assert rows[0]["text"] == HOSTILE  # starts with "<": a spreadsheet shows it as text
    assert rows[-1]["text"] == "'-2 refund, VIP"  # would be a formula
    assert rows[-1]["author"] == agent.name
    assert [row["time"] for row in rows] == sorted(row["time"] for row in rows)
    _, _, without = await exported(client, base, agent.token)
    assert "internal note" not in without


async def test_html_export_is_escaped_and_runs_nothing(client, sessions):
    conversation, agent = await a_conversation_with_a_note(client, sessions)
    base = f"/api/v1/conversations/{conversation['id']}/export?format=html"
    status, headers, page = await exported(client, f"{base}&notes=true", agent.token)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; =HYPERLINK" in page
    assert "Dana &lt;b&gt;Ops&lt;/b&gt;" in page
    assert "-2 refund, VIP" in page and "Includes internal notes." in page
    [nonce] = re.findall(r"<style nonce=\"([^\"]+)\">", page)
    policy = headers["Content-Security-Policy"]
    assert f"style-src 'nonce-{nonce}'" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy
    _, _, without = await exported(client, base, agent.token)
    assert "-2 refund" not in without and "Includes internal notes." not in without


async def test_export_refuses_unknown_formats_strangers_and_unknown_conversations(client, sessions):
    agent = await make_agent(sessions)
    conversation, _ = await a_conversation_with_a_note(client, sessions)
    base = f"/api/v1/conversations/{conversation['id']}/export"
    for query in ("?format=pdf", "?notes=maybe"):
        answer = await client.get(base + query, token=agent.token)
        assert (answer.status, answer.body["error"]) == (422, "invalid_field"), query
    assert (await client.get(base)).status == 401
    missing = await client.get("/api/v1/conversations/nope/export", token=agent.token)
    assert missing.status == 404
