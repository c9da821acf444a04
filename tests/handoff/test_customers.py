"""The customer's history: conversations on different channels meet in one customer record by
what triage collected, an agent merges two records, and the history lists every conversation
with its handoffs, tags and satisfaction; wrong requests are named and change nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from handoff.models import CsatSurvey, CustomerIdentity, utc_now
from handoff.services import customers
from harness.handoff_data import make_agent, make_conversation


def triage(reference: str | None, topic: str = "billing") -> dict[str, str | None]:
    return {
        "topic": topic,
        "description": "the invoice is wrong",
        "reference": reference,
        "mode_preference": "async",
        "device_name": None,
    }


async def arrive(sessions, channel: str, sender: str, reference: str | None, **overrides):
    """A handoff from `sender` on `channel`, with the reference triage collected."""
    return await make_conversation(
        sessions,
        conversation_id=f"{channel}-{sender}-{uuid.uuid4().hex[:6]}",
        channel=channel,
        customer={"id": sender, "language": "en"},
        triage=triage(reference),
        **overrides,
    )


async def history_of(client, token: str, conversation: dict) -> dict:
    answer = await client.get(f"/api/v1/conversations/{conversation['id']}/customer", token=token)
    assert answer.status == 200, answer.body
    return answer.body


def ids(history: dict) -> list[str]:
    return [item["id"] for item in history["conversations"]]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**6:06d}"


async def test_the_same_account_on_two_channels_is_one_customer(client, sessions):
    agent = await make_agent(sessions)
    account = unique("ACC-")
    web = await arrive(sessions, "webchat", unique("web-"), account, tags=["billing", "VIP"])
    phone = "49151" + unique("")
    whatsapp = await arrive(sessions, "whatsapp", phone, account.lower().replace("-", " "))
    stranger = await arrive(sessions, "webchat", unique("web-"), unique("ACC-"))
    async with sessions.begin() as session:
        session.add(
            CsatSurvey(
                conversation_id=web["id"],
                customer_id=web["customer"]["id"],
                status="answered",
                scale="csat_5",
                score=2,
                comment="took too long",
                answered_at=utc_now(),
            )
        )

    history = await history_of(client, agent.token, whatsapp)
    assert ids(history) == [whatsapp["id"], web["id"]]
    assert {"kind": "account", "value": account} in history["identities"]
    assert {"kind": "phone", "value": f"+{phone}"} in history["identities"]
    earlier = history["conversations"][1]
    assert earlier["current"] is False and history["conversations"][0]["current"] is True
    assert (earlier["channel"], earlier["tags"], earlier["handoffs"]) == (
        "webchat",
        ["billing", "VIP"],
        1,
    )
    assert earlier["satisfaction"] == {"score": 2, "scale": "csat_5", "comment": "took too long"}
    assert history["conversations"][0]["satisfaction"] is None
    assert ids(await history_of(client, agent.token, stranger)) == [stranger["id"]]
    assert (await history_of(client, agent.token, web))["id"] == history["id"]


async def test_a_conversation_that_names_two_known_records_merges_them(client, sessions):
    agent = await make_agent(sessions)
    email, order, phone = f"{unique('p')}@mail.example", unique("LH00"), "49160" + unique("")
    by_email = await arrive(sessions, "webchat", unique("web-"), email.upper())
    by_order = await arrive(sessions, "whatsapp", phone, order)
    assert ids(await history_of(client, agent.token, by_email)) == [by_email["id"]]

    both = await arrive(sessions, "whatsapp", phone, email)
    history = await history_of(client, agent.token, both)
    assert ids(history) == [both["id"], by_order["id"], by_email["id"]]
    assert {"kind": "email", "value": email} in history["identities"]
    assert {"kind": "order", "value": order} in history["identities"]


async def test_a_second_intake_of_one_conversation_lists_it_once(client, sessions):
    agent = await make_agent(sessions)
    first = await arrive(sessions, "webchat", unique("web-"), unique("ACC-"))
    sender = first["customer"]["id"]
    again = await make_conversation(
        sessions,
        conversation_id=first["conversation_id"],
        customer={"id": sender, "language": "en"},
        triage=triage(None),
    )
    assert again["id"] == first["id"]
    history = await history_of(client, agent.token, first)
    assert ids(history) == [first["id"]]


async def test_an_agent_merges_the_record_owning_an_identity(client, sessions):
    agent = await make_agent(sessions)
    email = f"{unique('m')}@mail.example"
    mine = await arrive(sessions, "webchat", unique("web-"), unique("ACC-"))
    theirs = await arrive(sessions, "whatsapp", "49170" + unique(""), email)
    merge = f"/api/v1/conversations/{mine['id']}/customer/merge"

    refused = [
        (await client.post(merge, json={"identity": email})).status,
        (await client.post(merge, json={}, token=agent.token)).status,
        (await client.post(merge, json={"identity": 42}, token=agent.token)).status,
        (await client.post(merge, json={"identity": "unknown"}, token=agent.token)).status,
        (await client.post(merge, json={"identity": "no@one.example"}, token=agent.token)).status,
    ]
    assert refused == [401, 400, 422, 422, 404]
    assert ids(await history_of(client, agent.token, mine)) == [mine["id"]]

    merged = await client.post(merge, json={"identity": f" {email.upper()} "}, token=agent.token)
    assert merged.status == 200, merged.body
    assert ids(merged.body) == [theirs["id"], mine["id"]]
    assert ids(await history_of(client, agent.token, theirs)) == [theirs["id"], mine["id"]]
    again = await client.post(merge, json={"identity": email}, token=agent.token)
    assert ids(again.body) == ids(merged.body)


async def test_history_needs_a_login_and_a_known_conversation(client, sessions):
    agent = await make_agent(sessions)
    conversation = await arrive(sessions, "webchat", unique("web-"), None)
    path = f"/api/v1/conversations/{conversation['id']}/customer"
    assert (await client.get(path)).status == 401
    missing = await client.get("/api/v1/conversations/nope/customer", token=agent.token)
    assert missing.status == 404


async def test_a_merge_with_an_unknown_field_is_refused(client, sessions):
    agent = await make_agent(sessions)
    conversation = await arrive(sessions, "webchat", unique("web-"), None)
    merge = f"/api/v1/conversations/{conversation['id']}/customer/merge"
    answer = await client.post(
        merge, json={"identity": "x@y.example", "into": 1}, token=agent.token
    )
    assert answer.status == 422 and "'into'" in answer.body["message"]


async def test_forgetting_a_customers_only_conversation_deletes_their_record(client, sessions):
    agent = await make_agent(sessions)
    email = f"{unique('f')}@mail.example"
    gone = await arrive(sessions, "webchat", unique("web-"), email)
    kept = await arrive(sessions, "webchat", unique("web-"), unique("ACC-"))
    first = await arrive(sessions, "whatsapp", "49175" + unique(""), unique("LH00"))
    second = await arrive(sessions, "whatsapp", first["customer"]["id"], None)
    async with sessions.begin() as session:
        deleted = await customers.forget(session, [gone["id"], first["id"]])
        left = await session.scalar(
            select(func.count()).where(
                CustomerIdentity.kind == "email", CustomerIdentity.value == email
            )
        )
    assert (deleted, left) == (1, 0)
    assert ids(await history_of(client, agent.token, kept)) == [kept["id"]]
    assert ids(await history_of(client, agent.token, second)) == [second["id"]]


async def test_an_erased_conversations_identities_leave_the_customer_who_stays(client, sessions):
    agent = await make_agent(sessions)
    phone, email = "49176" + unique(""), f"{unique('e')}@mail.example"
    erased = await arrive(sessions, "whatsapp", phone, email)
    stays = await arrive(sessions, "whatsapp", phone, None)
    async with sessions.begin() as session:
        await customers.drop_identities_of(session, [erased["id"]])
        await customers.forget(session, [erased["id"]])
    history = await history_of(client, agent.token, stays)
    assert ids(history) == [stays["id"]]
    assert {"kind": "email", "value": email} not in history["identities"]
    assert {"kind": "phone", "value": f"+{phone}"} in history["identities"]
