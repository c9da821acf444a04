"""CSAT survey decisions recorded when a person resolves, with why a survey was skipped, and the
customer's answer stored against the conversation and its agents (and sent as a webhook)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from contracts.values import format_time as iso
from handoff.models import WebhookDelivery
from handoff.roles import Role
from harness.handoff_data import handoff_body, make_agent

INTAKE = "test-intake-token"


async def handed_over(client, **overrides) -> dict:
    body = handoff_body(**overrides)
    body["frustration"] = {"score": 0.8, "signals": ["shouting"]}
    body["transcript"][0]["frustration"] = {"score": 0.8, "signals": ["shouting"]}
    answer = await client.post(
        "/api/v1/handoffs", json=body, token=INTAKE, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status in (200, 201), answer.body
    return answer.body


async def handled(
    client, agent, conversation: dict, *, reply: bool = True, template: bool = False, **resolve
) -> dict:
    """Claimed, answered (free text, or the channel's template when its window closed) and
    resolved; the survey decision."""
    path = f"/api/v1/conversations/{conversation['id']}"
    assert (await client.post(f"{path}/claim", token=agent.token)).status == 200
    if template:
        sent = await client.post(f"{path}/reply-template", token=agent.token)
        assert sent.status == 201
    elif reply:
        sent = await client.post(f"{path}/messages", json={"text": "Sorted."}, token=agent.token)
        assert sent.status == 201
    done = await client.post(f"{path}/resolve", json=resolve or None, token=agent.token)
    assert done.status == 200, done.body
    surveys = await client.get(f"{path}/csat", token=agent.token)
    return surveys.body["surveys"][-1]


async def test_an_eligible_survey_is_answered_once_against_the_conversation_and_its_agents(
    client, sessions
):
    admin = await make_agent(sessions, role=Role.ADMIN)
    agent = await make_agent(sessions, teams=("billing",))
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["csat.answered"]}
    assert (await client.post("/api/v1/webhooks", json=hook, token=admin.token)).status == 201
    conversation = await handed_over(client, channel="whatsapp")
    survey = await handled(client, agent, conversation)
    assert (survey["status"], survey["rule"]) == ("eligible", None)
    assert survey["agent_ids"] == [agent.id] and survey["last_agent_id"] == agent.id
    assert survey["frustration"] == {"at_handoff": 0.8, "at_end": 0.8}
    sender = conversation["conversation_id"]
    for bad in (6, 0, "4", True):
        refused = await client.post(
            "/api/v1/csat/answers", json={"conversation_id": sender, "score": bad}, token=INTAKE
        )
        assert (refused.status, refused.body["error"]) == (422, "invalid_score"), bad
    answer = {"conversation_id": sender, "score": 4, "comment": " Quick and kind. "}
    stored = await client.post("/api/v1/csat/answers", json=answer, token=INTAKE)
    assert stored.status == 200
    assert (stored.body["status"], stored.body["score"], stored.body["comment"]) == (
        "answered",
        4,
        "Quick and kind.",
    )
    again = await client.post("/api/v1/csat/answers", json=answer, token=INTAKE)
    assert (again.status, again.body["error"]) == (409, "already_answered")
    assert (await client.post("/api/v1/csat/answers", json=answer)).status == 401
    async with sessions() as session:
        [event] = (await session.scalars(select(WebhookDelivery.event_type))).all()
    assert event == "csat.answered"


async def test_every_skipped_survey_records_the_rule_and_why(client, sessions):
    agent = await make_agent(sessions, teams=("billing",))
    silent = await handled(client, agent, await handed_over(client), reply=False)
    assert (silent["status"], silent["rule"]) == ("skipped", "handled_by_person")
    opted_out = await handled(client, agent, await handed_over(client), survey=False)
    assert (opted_out["status"], opted_out["rule"]) == ("skipped", "agent_opt_out")

    customer = f"wa-{uuid.uuid4().hex[:6]}"
    first = await handed_over(client, conversation_id=customer, channel="whatsapp")
    assert (await handled(client, agent, first))["status"] == "eligible"
    reopened = await handed_over(client, conversation_id=customer, channel="whatsapp")
    again = await handled(client, agent, reopened)
    assert (again["status"], again["rule"]) == ("skipped", "once_per_conversation")

    other_channel = handoff_body()["customer"] | {"id": customer}
    sibling = await handed_over(client, customer=other_channel)
    recent = await handled(client, agent, sibling)
    assert (recent["status"], recent["rule"]) == ("skipped", "per_customer")
    assert "30 days" in recent["reason"]

    stale = handoff_body(channel="messenger")  # no templates there (WhatsApp sends one)
    long_ago = iso(datetime.now(timezone.utc) - timedelta(hours=25))
    stale["transcript"][0]["timestamp"] = long_ago
    stale["transcript"][1]["timestamp"] = long_ago
    late = await handled(client, agent, await handed_over(client, **stale))  # tagged reply
    assert (late["status"], late["rule"], late["template"]) == ("skipped", "channel_window", None)
    assert "24 h window" in late["reason"]


async def test_a_conversation_no_person_resolved_has_no_survey_to_answer(client, sessions):
    agent = await make_agent(sessions)
    conversation = await handed_over(client)
    path = f"/api/v1/conversations/{conversation['id']}/csat"
    assert (await client.get(path, token=agent.token)).body == {"surveys": []}
    answer = {"conversation_id": conversation["conversation_id"], "score": 5}
    refused = await client.post("/api/v1/csat/answers", json=answer, token=INTAKE)
    assert (refused.status, refused.body["error"]) == (409, "no_survey")
    bad = await client.post(
        f"/api/v1/conversations/{conversation['id']}/resolve",
        json={"survey": "no"},
        token=agent.token,
    )
    assert bad.status == 422
