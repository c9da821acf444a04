"""The KPI API over HTTP: who may read and change what, read-only API keys, slices refused
with 422, CSV exports, SVG charts, SLA targets, live tiles and alerts."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from contracts.values import format_time as iso
from handoff.roles import Role
from handoff.services.kpis import KpiRefresher
from harness.handoff_data import make_agent, make_conversation

DAY = "from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z"


async def test_supervisors_and_api_keys_read_kpis_agents_do_not(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    agent = await make_agent(sessions)
    assert (await client.get("/api/v1/kpis", token=agent.token)).status == 403
    answer = await client.get(f"/api/v1/kpis?{DAY}", token=supervisor.token)
    assert answer.status == 200
    assert set(answer.body["current"]) == {"sync", "async", "all", "bot"}
    assert answer.body["previous_slice"]["to"] == "2026-11-01T00:00:00+00:00"
    created = await client.post(
        "/api/v1/api-keys", token=supervisor.token, json={"name": "BI warehouse"}
    )
    assert created.status == 201
    key = created.body["token"]
    assert key.startswith("lhk_") and created.body["api_key"]["prefix"] == key[:10]
    assert (await client.get(f"/api/v1/kpis/agents?{DAY}", token=key)).status == 200
    assert (await client.get("/api/v1/sla-targets", token=key)).status == 200
    # read-only: a key changes nothing and cannot reach the agents' API
    refused = await client.request("PUT", "/api/v1/sla-targets", token=key, json={"targets": []})
    assert refused.status == 401
    assert (await client.get("/api/v1/queue", token=key)).status == 401
    assert (await client.post("/api/v1/api-keys", token=key, json={"name": "x"})).status == 401
    listed = await client.get("/api/v1/api-keys", token=supervisor.token)
    assert [k["name"] for k in listed.body["api_keys"]] == ["BI warehouse"]
    assert "token" not in listed.body["api_keys"][0]
    key_id = created.body["api_key"]["id"]
    revoked = await client.request("DELETE", f"/api/v1/api-keys/{key_id}", token=supervisor.token)
    assert revoked.status == 200 and revoked.body["api_key"]["revoked_at"]
    assert (await client.get("/api/v1/kpis", token=key)).status == 401
    assert (await client.get("/api/v1/kpis", token="lhk_not-a-key")).status == 401


async def test_bad_slices_are_refused_with_the_reason(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    for query, words in (
        ("from=2026-11-02&to=2026-11-01", "before"),
        ("from=yesterday", "ISO 8601"),
        ("from=2024-01-01&to=2026-01-01", "400 days"),
        ("priority=9", "priority"),
        ("mode=chat", "mode"),
        ("format=xml", "format"),
        ("compare=maybe", "compare"),
        ("to=0001-01-03", "years"),
        ("from=9999-12-30&to=9999-12-31", "years"),
    ):
        answer = await client.get(f"/api/v1/kpis?{query}", token=supervisor.token)
        assert answer.status == 422, query
        assert words in answer.body["message"], query
    drill = await client.get("/api/v1/kpis/conversations?metric=nope", token=supervisor.token)
    assert drill.status == 422
    chart = await client.get("/api/v1/kpis/charts/pie", token=supervisor.token)
    assert chart.status == 422


async def test_targets_are_validated_then_drive_sla_figures(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    url = "/api/v1/sla-targets"
    for bad in (
        {"targets": []},
        {"targets": [{"priority": 5, "mode": "sync"}]},
        {"targets": [{"priority": 3, "mode": "sync", "first_response_seconds": -1}]},
        {"targets": [{"priority": 3, "mode": "sync", "business_hours": "yes"}]},
        {"targets": [{"priority": 3, "mode": "sync"}, {"priority": 3, "mode": "sync"}]},
    ):
        answer = await client.request("PUT", url, token=supervisor.token, json=bad)
        assert answer.status == 422, bad
    before = (await client.get(url, token=supervisor.token)).body["targets"]
    assert not any(target["configured"] for target in before)
    asked = datetime.now(timezone.utc) - timedelta(minutes=10)  # the bot asked 10 minutes ago
    conversation = await make_conversation(sessions, requested_at=iso(asked))  # priority 3, sync
    good = {"targets": [{"priority": 3, "mode": "sync", "first_response_seconds": 60}]}
    answer = await client.request("PUT", url, token=supervisor.token, json=good)
    assert answer.status == 200
    (normal_sync,) = [
        t for t in answer.body["targets"] if (t["priority"], t["mode"]) == (3, "sync")
    ]
    assert normal_sync["first_response_seconds"] == 60 and normal_sync["configured"]
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    await KpiRefresher(sessions).refresh(later)
    since = (later - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    until = (later + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    window = f"from={since}&to={until}"
    drill = await client.get(
        f"/api/v1/kpis/conversations?{window}&metric=sla_first_response_breached",
        token=supervisor.token,
    )
    assert [row["conversation"] for row in drill.body["conversations"]] == [conversation["id"]]
    live = await client.get("/api/v1/kpis/live", token=supervisor.token)
    assert live.status == 200
    (billing,) = [tile for tile in live.body["teams"] if tile["team"] == "billing"]
    assert billing["waiting"] == 1 and billing["breached"] == 1
    assert live.body["at_risk"][0]["conversation"] == conversation["id"]


async def test_csv_exports_and_svg_charts(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    conversation = await make_conversation(sessions)
    await KpiRefresher(sessions).refresh()
    now = datetime.now(timezone.utc)
    window = "from={}&to={}".format(
        (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    exported = await client.get(
        f"/api/v1/kpis/conversations?{window}&format=csv", token=supervisor.token
    )
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.body)))
    assert [row["conversation"] for row in rows] == [conversation["id"]]
    assert rows[0]["team"] == "billing"
    summary = await client.get(f"/api/v1/kpis?{window}&format=csv", token=supervisor.token)
    kpis = {(r["group"], r["kpi"]): r for r in csv.DictReader(io.StringIO(summary.body))}
    assert kpis[("sync", "handoffs")]["current"] == "1"
    assert kpis[("sync", "handoffs")]["previous"] == "0"
    chart = await client.get(
        f"/api/v1/kpis/charts/volume?{window}&bucket=hour", token=supervisor.token
    )
    assert chart.status == 200
    assert "<svg" in chart.body and "<script" not in chart.body
    assert "Handoffs and bot contacts" in chart.body
