"""Satisfaction per agent in the KPI API: a survey counts fully for the agent who resolved and
half for every other agent who worked on the conversation (docs/kpis.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from handoff.roles import Role
from harness.handoff_data import make_agent
from tests.handoff.test_csat import INTAKE, handed_over, handled


async def answered(client, sender_id: str, score: int) -> None:
    answer = {"conversation_id": sender_id, "score": score}
    assert (await client.post("/api/v1/csat/answers", json=answer, token=INTAKE)).status == 200


async def test_per_agent_csat_weighs_the_resolver_fully_and_helpers_by_half(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    ana = await make_agent(sessions, name="Ana")
    ben = await make_agent(sessions, name="Ben")
    transferred = await handed_over(client, channel="whatsapp")
    path = f"/api/v1/conversations/{transferred['id']}"
    assert (await client.post(f"{path}/claim", token=ana.token)).status == 200
    first = await client.post(f"{path}/messages", json={"text": "Let me check."}, token=ana.token)
    assert first.status == 201
    moved = await client.post(f"{path}/transfer", json={"agent_id": ben.id}, token=ana.token)
    assert moved.status == 200, moved.body
    sent = await client.post(f"{path}/messages", json={"text": "Done."}, token=ben.token)
    assert sent.status == 201
    survey = (await client.post(f"{path}/resolve", token=ben.token)).body
    assert survey["status"] == "resolved"
    await answered(client, transferred["conversation_id"], 4)
    alone = await handed_over(client, channel="webchat")
    await handled(client, ana, alone)
    await answered(client, alone["conversation_id"], 2)

    now = datetime.now(timezone.utc)
    window = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    table = await client.get(f"/api/v1/kpis/agents?{urlencode(window)}", token=supervisor.token)
    rows = {row["agent_name"]: row for row in table.body["agents"]}
    # Ana: 4 at weight 0.5 (helped) and 2 at weight 1 (resolved); Ben: 4 at weight 1.
    assert (rows["Ana"]["csat_responses"], rows["Ana"]["csat_average"]) == (2, 2.67)
    assert rows["Ana"]["csat_satisfied_rate"] == 0.3333
    assert (rows["Ben"]["csat_responses"], rows["Ben"]["csat_average"]) == (1, 4.0)
    assert rows["Ben"]["csat_satisfied_rate"] == 1.0 and rows["Ben"]["nps"] is None
    only_ben = await client.get(
        f"/api/v1/kpis/agents?{urlencode({**window, 'agent': ben.id})}", token=supervisor.token
    )
    assert [
        row["csat_average"] for row in only_ben.body["agents"] if row["agent_id"] == ben.id
    ] == [4.0]
    on_webchat = await client.get(
        f"/api/v1/kpis/agents?{urlencode({**window, 'channel': 'webchat'})}", token=supervisor.token
    )
    assert {r["agent_name"]: r["csat_average"] for r in on_webchat.body["agents"]} == {"Ana": 2.0}


async def test_satisfaction_over_time_counts_each_survey_once_and_is_charted(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    ana = await make_agent(sessions, name="Ana")
    for score in (5, 2):
        conversation = await handed_over(client, channel="webchat")
        await handled(client, ana, conversation)
        await answered(client, conversation["conversation_id"], score)
    now = datetime.now(timezone.utc)
    window = urlencode(
        {
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(),
            "bucket": "day",
        }
    )
    series = await client.get(f"/api/v1/kpis/series?{window}", token=supervisor.token)
    (today,) = [point for point in series.body["series"] if point["csat_responses"]]
    assert today["bucket"] == now.strftime("%Y-%m-%d")
    assert (today["csat_responses"], today["csat_average"]) == (2, 3.5)
    assert today["csat_satisfied_rate"] == 0.5
    chart = await client.get(f"/api/v1/kpis/charts/csat?{window}", token=supervisor.token)
    assert chart.status == 200 and "<svg" in chart.body
    assert "Customer satisfaction" in chart.body and "<script" not in chart.body
    assert '<desc class="value">50</desc>' in chart.body  # the satisfied share of the day
