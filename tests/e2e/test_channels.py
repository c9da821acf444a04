"""The whole product per channel: the customer on WhatsApp or Messenger (signed webhooks, the
Graph API on loopback), the real bot and action server, the handoff service and an agent."""

from __future__ import annotations

import pytest

from handoff.notices import notice as customer_notice
from tests.e2e.channels import Agent, MetaCustomer, WebChatCustomer
from tests.e2e.conftest import Product

pytestmark = pytest.mark.slow
BOT_MARKER = "🤖 "


async def hand_back_and_continue(customer: MetaCustomer, agent: Agent, pk: str) -> None:
    """The agent's part, then the bot again: shared by every channel."""
    await agent.act(pk, "claim")
    joined = await customer.wait_for("joined the conversation")
    assert joined == customer_notice("joined", "en", agent="Dana", brand="Lumen Home")

    await agent.act(pk, "messages", {"text": "Hi, I'm Dana. I can see the double charge."})
    line = await customer.wait_for("I can see the double charge")
    assert line == "Dana (Lumen Home): Hi, I'm Dana. I can see the double charge."  # a person

    await customer.send("thank you Dana")
    answer = await agent.customer_line(pk, "thank you Dana")
    assert answer["author_type"] == "customer"
    assert customer.received()[customer.seen :] == []  # the bot stays silent meanwhile

    await agent.act(pk, "return-to-bot")
    back = await customer.wait_for("virtual assistant")
    assert back.startswith(BOT_MARKER)
    faq = await customer.say("how do I reset my password", expect="Reset password")
    assert all(line.startswith(BOT_MARKER) for line in faq)


async def test_whatsapp_customer_through_triage_to_an_agent_and_back(product: Product) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "whatsapp")
    welcome = await customer.say("hi", expect="virtual assistant")
    assert welcome[0].startswith(BOT_MARKER)
    await customer.say("I was charged twice for my Lumen Protect plan this month", expect="account")
    await customer.say("ACC-482913", expect="stay and chat")
    buttons = [b for b in product.graph.sent if b.get("to") == customer.id][-1]
    assert buttons["type"] == "interactive"
    handed = await customer.say("I'll stay and chat", payload="/stay_and_chat", expect="person")
    assert handed[-1].startswith(BOT_MARKER)

    agent = Agent(product.handoff_url)
    await agent.log_in(product.agent_email, product.agent_password)
    queued = await agent.queued(customer.id)
    assert (queued["channel"], queued["team"], queued["mode"]) == ("whatsapp", "billing", "sync")
    transcript = (await agent.conversation(queued["id"]))["messages"]
    authors = {(m["author_type"], m["text"]) for m in transcript}
    assert ("customer", "I was charged twice for my Lumen Protect plan this month") in authors
    assert any(kind == "bot" for kind, _ in authors)

    await hand_back_and_continue(customer, agent, queued["id"])


async def test_messenger_frustrated_customer_is_handed_over_at_once(product: Product) -> None:
    customer = MetaCustomer(product.rasa_url, product.graph, "messenger")
    await customer.say("hello", expect="virtual assistant")
    await customer.say("my doorbell camera has been offline since yesterday", expect="account")
    handed = await customer.say(
        "THIS IS THE THIRD TIME I'M ASKING, your support is useless!!!", expect="person"
    )
    assert handed[-1].startswith(BOT_MARKER)

    agent = Agent(product.handoff_url)
    await agent.log_in(product.agent_email, product.agent_password)
    queued = await agent.queued(customer.id)
    assert queued["escalation_reason"] == "frustration"
    assert queued["priority"]["name"] in {"urgent", "high"}
    assert "shouting" in queued["frustration"]["signals"]

    await hand_back_and_continue(customer, agent, queued["id"])


async def test_web_chat_customer_sees_who_answers(product: Product) -> None:
    async with WebChatCustomer(product.rasa_url) as customer:
        await customer.send("hi")
        welcome = await customer.wait_for("virtual assistant")
        assert welcome["author_type"] == "bot"
        await customer.send("I'd like to talk to a person please")
        assert (await customer.wait_for("person"))["author_type"] == "bot"

        agent = Agent(product.handoff_url)
        await agent.log_in(product.agent_email, product.agent_password)
        queued = await agent.queued(customer.id)
        assert queued["channel"] == "webchat" and queued["escalation_reason"] == "human_request"
        await agent.act(queued["id"], "claim")
        joined = await customer.wait_for("joined the conversation")
        assert joined["author_type"] == "system"
        await agent.act(queued["id"], "messages", {"text": "Hello, Dana here. How can I help?"})
        reply = await customer.wait_for("Dana here")
        assert (reply["author_type"], reply["author_name"]) == ("agent", "Dana")

        await customer.send("my thermostat shows 30 degrees")
        await agent.customer_line(queued["id"], "my thermostat shows 30 degrees")
        await agent.act(queued["id"], "return-to-bot")
        assert (await customer.wait_for("virtual assistant"))["author_type"] == "bot"
