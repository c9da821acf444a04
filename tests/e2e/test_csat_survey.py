"""The satisfaction survey through every real process: an agent resolves a conversation, the
handoff service starts the survey in the bot, the customer gets it in their channel (a list at
the simulated Graph API on WhatsApp, quick replies on Messenger, buttons on the web chat's
socket), answers with a score and maybe a comment, and the score reaches the conversation's
survey record and the per-agent KPIs. A customer who last wrote outside WhatsApp's 24-hour
window gets the policy's template instead (bot/csat.yml: `whatsapp: {hours: 24, outside:
template, template: care_satisfaction}`) and answers with its buttons. A conversation only the
bot handled gets no survey, nor does one resolved automatically for the customer's silence
(the reason recorded)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import pytest

from contracts.survey import answer_payload
from handoff.thread_policy import load_policy as load_thread_policy
from harness.handoff_store import handoff_store, move_into_the_past, stored
from tests.e2e.channels import Agent, MetaCustomer, WebChatCustomer, eventually, recipient
from tests.e2e.conftest import Product

pytestmark = pytest.mark.slow
QUESTION = "how happy are you with the help you got today"
COMMENT_PROMPT = "Anything you'd like to tell us"
THANKS = "Thanks for your feedback"
SCORES = ["5", "4", "3", "2", "1"]  # the buttons' payloads, best first


@pytest.fixture(scope="module")
def product_env() -> dict[str, str]:
    # The thread-lifetime round every second: an automatic resolution within the test.
    return {"THREAD_CHECK_SECONDS": "1"}


class Customer(Protocol):
    """A customer on any channel (MetaCustomer, WebChatCustomer)."""

    id: str

    async def send(self, text: str) -> None: ...

    async def wait_for(self, expect: str) -> Any: ...


async def handed_to_dana(product: Product, customer: Customer) -> tuple[Agent, str]:
    """The customer asks the bot for a person, Dana claims and answers; her API client and the
    conversation's id (not resolved yet)."""
    await customer.send("hi")
    await customer.wait_for("virtual assistant")
    await customer.send("can I talk to a person please")
    await customer.wait_for("person")
    agent = Agent(product.handoff_url)
    await agent.log_in(product.agent_email, product.agent_password)
    pk = (await agent.queued(customer.id))["id"]
    await agent.act(pk, "claim")
    await customer.wait_for("joined the conversation")
    await agent.act(pk, "messages", {"text": "Hi, Dana here. Your replacement hub ships today."})
    await customer.wait_for("replacement hub ships today")
    return agent, pk


def sent_to(product: Product, customer_id: str) -> list[dict[str, Any]]:
    """Every Graph API send request to the customer, in order."""
    sent = product.graph.sent
    return [body for body in sent if isinstance(body, dict) and recipient(body) == customer_id]


async def survey_of(agent: Agent, pk: str) -> dict[str, Any]:
    [survey] = (await agent.get(f"/api/v1/conversations/{pk}/csat"))["surveys"]
    return survey


async def dana_csat(agent: Agent, channel: str) -> tuple[int, float | None]:
    """Dana's satisfaction on `channel` over the last hour in the KPI API: responses, average
    (0 and None while she has no row there yet)."""
    now = datetime.now(timezone.utc)
    query = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
    table = await agent.get(f"/api/v1/kpis/agents?{urlencode({**query, 'channel': channel})}")
    for row in table["agents"]:
        if row["agent_name"] == "Dana":
            return row["csat_responses"], row["csat_average"]
    return 0, None


def customer_last_wrote(workdir: Path, pk: str, at: datetime) -> None:
    """Date the customer's lines of conversation `pk` back to `at` in the handoff service's
    database, as if they had last written then: the service takes the customer's last message
    time from these lines for the channel windows (the reply window, the survey's)."""
    with handoff_store(workdir) as db:
        moved = db.execute(
            "UPDATE messages SET created_at = ? WHERE conversation_id = ? AND author_type = ?",
            (stored(at), pk, "customer"),
        ).rowcount
    assert moved, f"no customer line stored for {pk}"


async def test_a_resolved_whatsapp_conversation_is_surveyed_and_the_score_counts(
    product: Product,
) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await handed_to_dana(product, customer)
    await agent.act(pk, "resolve")

    assert QUESTION in await customer.wait_for(QUESTION)
    survey = sent_to(product, customer.id)[-1]
    assert (survey["type"], survey["interactive"]["type"]) == ("interactive", "list")
    rows = survey["interactive"]["action"]["sections"][0]["rows"]
    assert [row["id"] for row in rows] == SCORES
    assert rows[1]["title"] == "4 - Happy"
    await customer.pick("4", "4 - Happy", expect=COMMENT_PROMPT)
    thanks = await customer.say("Dana was quick and clear", expect=THANKS)
    assert thanks[-1].startswith("🤖 ")

    answered = await survey_of(agent, pk)
    assert (answered["status"], answered["score"], answered["comment"]) == (
        "answered",
        4,
        "Dana was quick and clear",
    )
    assert await dana_csat(agent, "whatsapp") == (1, 4.0)
    await agent.customer_line(pk, "Dana was quick and clear")  # the ingest has the answers
    assert (await agent.conversation(pk))["status"] == "resolved"  # and they reopen nothing


async def test_a_messenger_customer_answers_with_quick_replies_and_no_comment(
    product: Product,
) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "messenger")
    agent, pk = await handed_to_dana(product, customer)
    await agent.act(pk, "resolve")

    assert QUESTION in await customer.wait_for(QUESTION)
    replies = sent_to(product, customer.id)[-1]["message"]["quick_replies"]
    assert [reply["payload"] for reply in replies] == SCORES
    assert replies[3]["title"] == "2 - Unhappy"
    await customer.say("2 - Unhappy", payload="2", expect=COMMENT_PROMPT)
    skip = sent_to(product, customer.id)[-1]["message"]["quick_replies"]
    assert [reply["title"] for reply in skip] == ["No, that's all"]
    thanks = await customer.say("No, that's all", payload=skip[0]["payload"], expect=THANKS)
    assert thanks[-1].startswith("🤖 ")

    answered = await survey_of(agent, pk)
    assert (answered["status"], answered["score"], answered["comment"]) == ("answered", 2, None)
    assert await dana_csat(agent, "messenger") == (1, 2.0)


async def test_a_web_chat_customer_answers_with_a_button_and_a_comment(product: Product) -> None:
    async with WebChatCustomer(product.rasa_url) as customer:
        agent, pk = await handed_to_dana(product, customer)
        await agent.act(pk, "resolve")

        asked = await customer.wait_for(QUESTION)
        assert asked["author_type"] == "bot"
        assert [button["payload"] for button in asked["buttons"]] == SCORES
        [very_happy] = [b for b in asked["buttons"] if b["payload"] == "5"]
        assert very_happy["title"] == "5 - Very happy"
        await customer.tap(very_happy)
        prompt = await customer.wait_for(COMMENT_PROMPT)
        assert [button["title"] for button in prompt["buttons"]] == ["No, that's all"]
        await customer.send("Sorted in five minutes, thank you")
        assert (await customer.wait_for(THANKS))["author_type"] == "bot"

    answered = await survey_of(agent, pk)
    assert (answered["status"], answered["score"], answered["comment"]) == (
        "answered",
        5,
        "Sorted in five minutes, thank you",
    )
    assert await dana_csat(agent, "webchat") == (1, 5.0)


async def test_whatsapp_after_the_24_hour_window_the_template_asks_and_a_tap_answers(
    product: Product,
) -> None:
    assert product.workdir is not None
    late = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await handed_to_dana(product, late)
    customer_last_wrote(product.workdir, pk, datetime.now(timezone.utc) - timedelta(hours=25))
    window = (await agent.conversation(pk))["reply_window"]
    assert window["state"] == "closed", window  # what the console shows Dana now
    before = await dana_csat(agent, "whatsapp")

    await agent.act(pk, "resolve")
    decided = await survey_of(agent, pk)
    assert (decided["status"], decided["template"]) == ("eligible", "care_satisfaction")

    async def template_sent() -> dict[str, Any] | None:
        sent = [body for body in sent_to(product, late.id) if body["type"] == "template"]
        return sent[-1] if sent else None

    template = (await eventually(template_sent, "the survey's template"))["template"]
    assert (template["name"], template["language"]) == ("care_satisfaction", {"code": "en_US"})
    buttons = [c for c in template["components"] if c["type"] == "button"]
    assert [b["parameters"][0]["payload"] for b in buttons] == [
        answer_payload(score) for score in (5, 4, 3, 2, 1)
    ]
    assert not any(QUESTION in line for line in late.received())  # never the free-text list

    async def survey_line_sent() -> dict[str, Any] | None:
        """The survey's last line as Dana reads it, once the Graph API's answer is recorded."""
        line: dict[str, Any] = (await agent.conversation(pk))["messages"][-1]
        return line if line["delivery_status"] != "pending" else None

    line = await eventually(survey_line_sent, "the survey line's delivery status")
    assert (line["author_type"], line["delivery_status"]) == ("system", "sent")
    assert "How happy are you with the help our team gave you" in line["text"]

    await late.tap_template_button(answer_payload(4), "4 - Happy", expect=COMMENT_PROMPT)
    thanks = await late.say("Sorted in the end, thanks", expect=THANKS)
    assert thanks[-1].startswith("🤖 ")
    answered = await survey_of(agent, pk)
    assert (answered["status"], answered["score"], answered["comment"]) == (
        "answered",
        4,
        "Sorted in the end, thanks",
    )
    responses, average = before
    total = responses * (average or 0) + 4
    assert await dana_csat(agent, "whatsapp") == (responses + 1, round(total / (responses + 1), 2))
    await agent.customer_line(pk, "Sorted in the end, thanks")
    view = await agent.conversation(pk)
    assert (view["status"], view["reopen_count"]) == ("resolved", 0)  # the tap reopens nothing


async def test_a_conversation_only_the_bot_handled_gets_no_survey(product: Product) -> None:
    bot_only = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    await bot_only.say("hi", expect="virtual assistant")
    await bot_only.say("how do I reset my password", expect="Reset password")
    marker = f"thanks, that was all {uuid.uuid4().hex[:8]}"
    await bot_only.send(marker)

    witness = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await handed_to_dana(product, witness)
    await agent.act(pk, "resolve")
    await witness.wait_for(QUESTION)  # the survey job has run since the bot-only conversation

    async def found() -> dict[str, Any] | None:
        hits = await agent.get(f"/api/v1/conversations/search?{urlencode({'text': marker})}")
        return next(iter(hits["conversations"]), None)

    conversation = await eventually(found, "the bot-only conversation in the service")
    assert conversation["status"] == "bot"
    assert await agent.get(f"/api/v1/conversations/{conversation['id']}/csat") == {"surveys": []}
    assert not any(QUESTION in line for line in bot_only.received())


async def test_a_conversation_resolved_for_the_customer_s_silence_is_not_surveyed(
    product: Product,
) -> None:
    assert product.workdir is not None
    silent = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    agent, pk = await handed_to_dana(product, silent)
    view = await agent.conversation(pk)
    if view["mode"] != "async":  # answer later: closed after days of silence (the bot may
        await agent.act(pk, "mode", {"mode": "async"})  # have handed it off so already)
    topic = view["triage"]["topic"]
    limit = load_thread_policy().silence_limit(topic, "async")
    assert limit is not None
    move_into_the_past(product.workdir, pk, limit + timedelta(days=1))

    closed = await agent.conversation_when(
        pk, lambda view: view["status"] == "resolved", "resolved for the customer's silence"
    )
    assert closed["resolution"] == "automatic"
    skipped = await survey_of(agent, pk)
    assert (skipped["status"], skipped["rule"], skipped["reason"]) == (
        "skipped",
        "automatic_resolution",
        "resolved automatically, not by a person",
    )
    assert not any(QUESTION in line for line in silent.received())
