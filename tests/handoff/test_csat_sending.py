"""Starting due CSAT surveys: in the bot through Rasa's HTTP API once, after the policy's delay,
never for a conversation reopened meanwhile or resolved without survey, retried while Rasa
refuses and then given up with the reason recorded; outside WhatsApp's window as the policy's
template with a score on each quick-reply button, through the connector's deliver endpoint, the
customer's tap then stored as the answer like one given in the window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update

from contracts.values import format_time as iso
from handoff.app import create_app
from handoff.csat import DEFAULT_POLICY_PATH, CsatPolicy, load_policy
from handoff.delivery import DeliveryClient
from handoff.http import RetryPolicy
from handoff.live import LocalBroadcaster
from handoff.models import CsatSurvey, utc_now
from handoff.rasa_client import RasaClient
from handoff.services.conversations import ConversationService
from handoff.services.csat import CsatService
from harness.handoff_data import handoff_body, make_agent
from harness.service import ApiClient, serving
from tests.handoff.conftest import DELIVERY_TOKEN
from tests.handoff.servers import FakeServer, fake_server
from tests.handoff.test_csat import INTAKE, handed_over, handled

ACCEPTED = (200, {})
DELIVERED = (200, {"status": "sent", "channel_message_id": "wamid.survey-1"})
TEMPLATE_ANSWERS = [f'/csat_answer{{"csat_score":{score}}}' for score in (5, 4, 3, 2, 1)]


@pytest.fixture
async def rasa() -> AsyncIterator[FakeServer]:
    async with fake_server([ACCEPTED]) as server:
        yield server


@pytest.fixture
async def connector() -> AsyncIterator[FakeServer]:
    """The channels' deliver endpoint (connectors/common/deliver.py), taking every line."""
    async with fake_server([DELIVERED]) as server:
        yield server


@dataclass
class Sending:
    """The sending side on its own, as the app's leased job runs it: one round is `due()`."""

    service: CsatService
    rasa: RasaClient
    lines: ConversationService

    async def due(self) -> int:
        return await self.service.send_due(self.rasa, self.lines)


@asynccontextmanager
async def sending(
    sessions, rasa_url: str, connector_url: str, policy: CsatPolicy
) -> AsyncIterator[Sending]:
    async with aiohttp.ClientSession() as http:
        retry = RetryPolicy(1, 0.01, 5.0)
        rasa_client = RasaClient(http, rasa_url, "rasa-t", retry)
        service = CsatService(sessions, policy)
        delivery = DeliveryClient(http, connector_url, DELIVERY_TOKEN, retry)
        lines = ConversationService(sessions, LocalBroadcaster(), delivery, rasa_client)
        yield Sending(service, rasa_client, lines)


@pytest.fixture
async def sender(sessions, rasa, connector) -> AsyncIterator[Sending]:
    async with sending(sessions, rasa.url, connector.url, load_policy()) as running:
        yield running


async def late_on_whatsapp(api: ApiClient, agent) -> dict:
    """A WhatsApp conversation whose customer last wrote 25 hours ago, answered with the reply
    template and resolved by `agent`: the survey decision."""
    stale = handoff_body(channel="whatsapp")
    for line in stale["transcript"]:
        line["timestamp"] = iso(utc_now() - timedelta(hours=25))
    conversation = await handed_over(api, **stale)
    survey = await handled(api, agent, conversation, template=True)
    return {**survey, "conversation": conversation}


async def test_a_due_survey_starts_in_the_bot_once(client, sessions, rasa, sender):
    agent = await make_agent(sessions)
    conversation = await handed_over(client, channel="whatsapp")
    await handled(client, agent, conversation)
    assert await sender.due() == 1
    assert await sender.due() == 0  # never a second time
    sender_id = conversation["conversation_id"]
    assert [(r.path, r.query, r.body) for r in rasa.requests] == [
        (
            f"/conversations/{sender_id}/tracker/events",
            {"token": "rasa-t"},
            [
                {"event": "resume"},
                {"event": "slot", "name": "handoff_active", "value": False},
                {"event": "slot", "name": "csat_scale", "value": "csat_5"},
                {"event": "slot", "name": "csat_comment_wanted", "value": True},
                {"event": "action", "name": "action_listen"},
            ],
        ),
        (
            f"/conversations/{sender_id}/trigger_intent",
            {"output_channel": "latest", "token": "rasa-t"},
            {"name": "csat_survey"},
        ),
    ]
    path = f"/api/v1/conversations/{conversation['id']}/csat"
    [survey] = (await client.get(path, token=agent.token)).body["surveys"]
    assert survey["status"] == "sent"
    answer = {"conversation_id": sender_id, "score": 4, "comment": "Fast"}
    stored = await client.post("/api/v1/csat/answers", json=answer, token="test-intake-token")
    assert (stored.status, stored.body["score"]) == (200, 4)


async def test_resolved_without_survey_nothing_is_sent(client, sessions, rasa, sender):
    agent = await make_agent(sessions)
    skipped = await handled(client, agent, await handed_over(client), survey=False)
    assert (skipped["status"], skipped["rule"]) == ("skipped", "agent_opt_out")
    assert await sender.due() == 0
    assert rasa.requests == []


async def test_a_conversation_reopened_before_the_survey_is_due_is_skipped(
    client, sessions, rasa, sender
):
    agent = await make_agent(sessions)
    first = await handed_over(client)
    assert (await handled(client, agent, first))["status"] == "eligible"
    await handed_over(client, conversation_id=first["conversation_id"])  # the customer is back
    assert await sender.due() == 0
    path = f"/api/v1/conversations/{first['id']}/csat"
    [survey] = (await client.get(path, token=agent.token)).body["surveys"]
    assert (survey["status"], survey["rule"]) == ("skipped", "reopened")
    assert rasa.requests == []


@asynccontextmanager
async def api_with_policy(settings, tmp_path: Path, shipped: str, changed: str):
    """The service's API running the shipped policy with `shipped` replaced by `changed`; the
    policy file's path."""
    policy = DEFAULT_POLICY_PATH.read_text()
    assert shipped in policy
    path = tmp_path / "csat.yml"
    path.write_text(policy.replace(shipped, changed))
    app = create_app(replace(settings, csat_policy_path=str(path)))
    async with serving(app) as base, aiohttp.ClientSession() as http:
        yield ApiClient(http, base), path


async def test_the_policy_delay_holds_the_survey_until_due(
    settings, sessions, rasa, sender, tmp_path: Path
):
    delayed = api_with_policy(settings, tmp_path, "delay_minutes: 0", "delay_minutes: 30")
    async with delayed as (api, _):
        agent = await make_agent(sessions)
        survey = await handled(api, agent, await handed_over(api, channel="webchat"))
    assert survey["status"] == "eligible"
    assert await sender.due() == 0 and rasa.requests == []
    async with sessions.begin() as session:  # the 30 minutes have passed
        await session.execute(update(CsatSurvey).values(due_at=utc_now() - timedelta(seconds=1)))
    assert await sender.due() == 1
    assert rasa.requests[-1].body == {"name": "csat_survey"}


async def test_rasa_refusing_is_retried_then_given_up_with_the_reason(client, sessions, connector):
    agent = await make_agent(sessions)
    conversation = await handed_over(client)
    await handled(client, agent, conversation)
    path = f"/api/v1/conversations/{conversation['id']}/csat"
    async with (
        fake_server([(503, {"message": "busy"})]) as down,
        sending(sessions, down.url, connector.url, load_policy()) as sender,
    ):
        assert await sender.due() == 0
        [survey] = (await client.get(path, token=agent.token)).body["surveys"]
        assert survey["status"] == "eligible"  # tried again next round
        async with sessions.begin() as session:
            await session.execute(update(CsatSurvey).values(due_at=utc_now() - timedelta(hours=2)))
        assert await sender.due() == 0
        assert len(down.requests) == 2
    [survey] = (await client.get(path, token=agent.token)).body["surveys"]
    assert (survey["status"], survey["rule"]) == ("skipped", "not_sent")
    assert "HTTP 503" in survey["reason"]


async def test_outside_the_window_the_template_goes_with_a_score_on_each_button(
    client, sessions, rasa, connector, sender
):
    """bot/csat.yml: `whatsapp: {hours: 24, outside: template, template: care_satisfaction}`."""
    agent = await make_agent(sessions)
    decided = await late_on_whatsapp(client, agent)
    assert (decided["status"], decided["template"]) == ("eligible", "care_satisfaction")
    conversation = decided["conversation"]
    assert await sender.due() == 1
    assert await sender.due() == 0  # never a second time
    sender_id = conversation["conversation_id"]
    [readied] = rasa.requests  # the bot waits for the tap, it asks nothing itself
    assert (readied.path, readied.body) == (
        f"/conversations/{sender_id}/tracker/events",
        [
            {"event": "resume"},
            {"event": "slot", "name": "handoff_active", "value": False},
            {"event": "slot", "name": "csat_scale", "value": "csat_5"},
            {"event": "slot", "name": "csat_comment_wanted", "value": True},
            {"event": "action", "name": "action_listen"},
        ],
    )
    [delivered] = connector.requests
    assert delivered.path == "/webhooks/whatsapp/deliver"
    assert delivered.headers["Authorization"] == f"Bearer {DELIVERY_TOKEN}"
    text = load_policy().templates["care_satisfaction"].text
    assert {k: delivered.body[k] for k in ("channel", "author_type", "text", "template")} == {
        "channel": "whatsapp",
        "author_type": "system",
        "text": text,
        "template": {
            "name": "care_satisfaction",
            "language": "en_US",
            "parameters": [],
            "buttons": TEMPLATE_ANSWERS,
        },
    }
    path = f"/api/v1/conversations/{conversation['id']}"
    detail = (await client.get(path, token=agent.token)).body
    line = detail["messages"][-1]  # what the agent reads in the transcript
    assert (line["author_type"], line["text"], line["delivery_status"]) == ("system", text, "sent")
    assert detail["status"] == "resolved"
    [survey] = (await client.get(f"{path}/csat", token=agent.token)).body["surveys"]
    assert survey["status"] == "sent"

    tapped = {"conversation_id": sender_id, "score": 4, "comment": None}  # as the bot reports it
    stored = await client.post("/api/v1/csat/answers", json=tapped, token=INTAKE)
    assert (stored.status, stored.body["status"], stored.body["score"]) == (200, "answered", 4)
    again = await client.post("/api/v1/csat/answers", json={**tapped, "score": 5}, token=INTAKE)
    assert (again.status, again.body["error"]) == (409, "already_answered")  # stored once


async def test_a_template_the_channel_refuses_is_given_up_with_the_channel_s_reason(
    client, sessions, rasa
):
    agent = await make_agent(sessions)
    conversation = (await late_on_whatsapp(client, agent))["conversation"]
    refusal = {"error": "channel_rejected", "message": "WhatsApp refused the message: no template"}
    async with (
        fake_server([(422, refusal)]) as refusing,
        sending(sessions, rasa.url, refusing.url, load_policy()) as sender,
    ):
        assert await sender.due() == 0
        assert await sender.due() == 0 and len(refusing.requests) == 1  # not tried again
    path = f"/api/v1/conversations/{conversation['id']}"
    [survey] = (await client.get(f"{path}/csat", token=agent.token)).body["surveys"]
    assert (survey["status"], survey["rule"]) == ("skipped", "not_sent")
    assert survey["reason"] == (
        "the channel did not take the template (WhatsApp refused the message: no template)"
    )
    line = (await client.get(path, token=agent.token)).body["messages"][-1]
    assert (line["author_type"], line["delivery_status"]) == ("system", "failed")


async def test_with_rasa_down_no_template_goes_until_the_bot_can_take_the_answer(
    client, sessions, connector
):
    agent = await make_agent(sessions)
    conversation = (await late_on_whatsapp(client, agent))["conversation"]
    async with (
        fake_server([(503, {"message": "busy"})]) as down,
        sending(sessions, down.url, connector.url, load_policy()) as sender,
    ):
        assert await sender.due() == 0
    assert connector.requests == []  # a tap now would reach a paused bot
    path = f"/api/v1/conversations/{conversation['id']}/csat"
    [survey] = (await client.get(path, token=agent.token)).body["surveys"]
    assert survey["status"] == "eligible"  # tried again next round
