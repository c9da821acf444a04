"""Outbound webhooks: registered by admins, written to the outbox with the change, delivered
signed, in order per conversation, retried across a receiver outage and a service restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from handoff.app import create_app
from handoff.models import WebhookDelivery
from handoff.roles import Role
from handoff.services.erasure import ErasureService, Requester
from handoff.services.retention import RetentionPolicy, apply_retention
from handoff.services.webhooks import EVENTS, SenderPolicy, WebhookSender
from harness.handoff_data import handoff_body, make_agent
from harness.service import ApiClient, eventually, serving
from tests.handoff.servers import fake_server
from tests.handoff.webhook_receiver import Receiver

FAST = {
    "webhook_poll_seconds": 0.05,
    "webhook_backoff_seconds": 0.05,
    "webhook_max_backoff_seconds": 0.2,
    "webhook_timeout_seconds": 2.0,
}


@pytest.fixture
def fast_settings(settings):
    return replace(settings, **FAST)


@asynccontextmanager
async def service(settings) -> AsyncIterator[ApiClient]:
    async with serving(create_app(settings)) as url, aiohttp.ClientSession() as http:
        yield ApiClient(http, url)


async def register(api: ApiClient, token: str, url: str, events: list[str] | None = None) -> dict:
    answer = await api.post(
        "/api/v1/webhooks", json={"url": url, "events": events or list(EVENTS)}, token=token
    )
    assert answer.status == 201, answer.body
    return answer.body


async def intake(api: ApiClient, body: dict[str, Any]) -> dict:
    answer = await api.post(
        "/api/v1/handoffs",
        json=body,
        token="test-intake-token",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status == 201, answer.body
    return answer.body


async def work_on(api: ApiClient, agent_token: str, conversation_pk: str) -> None:
    """Claim, reply, note, resolve: every call answers at once whatever the endpoint does."""
    path = f"/api/v1/conversations/{conversation_pk}"
    for step, body in (
        ("claim", None),
        ("messages", {"text": "Let me look at your bill."}),
        ("notes", {"text": "refund approved"}),
        ("resolve", None),
    ):
        answer = await api.post(f"{path}/{step}", json=body, token=agent_token)
        assert answer.status in (200, 201), (step, answer.body)


async def log(api: ApiClient, token: str, endpoint_id: str, **query: str) -> dict:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    answer = await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries?{suffix}", token=token)
    assert answer.status == 200, answer.body
    return answer.body


async def outbox_ids(sessions, endpoint_id: str) -> dict[str, list[str]]:
    """Event ids per conversation, in the order they were written."""
    async with sessions() as session:
        rows = await session.execute(
            select(WebhookDelivery.conversation_id, WebhookDelivery.event_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        )
        ordered: dict[str, list[str]] = {}
        for conversation_pk, event_id in rows:
            ordered.setdefault(conversation_pk, []).append(event_id)
        return ordered


def about(event: dict, conversation: dict) -> bool:
    return event["data"]["conversation"]["id"] == conversation["id"]


LIFECYCLE = [
    "handoff.created",
    "conversation.assigned",
    "message.created",  # the "joined" notice
    "message.created",  # the agent's reply
    "note.created",
    "conversation.resolved",
    "message.created",  # the "closed" notice
]


async def test_receiver_down_then_up_across_a_restart_loses_duplicates_and_reorders_nothing(
    sessions, fast_settings
):
    admin = await make_agent(sessions, role=Role.ADMIN)
    agent = await make_agent(sessions, teams=("billing",))
    receiver = Receiver()  # down: nothing listens on its port yet
    async with service(fast_settings) as api:
        endpoint = await register(api, admin.token, receiver.url)
        receiver.secret = endpoint["secret"]
        first = await intake(api, handoff_body())
        second = await intake(api, handoff_body())
        await work_on(api, agent.token, first["id"])
        await work_on(api, agent.token, second["id"])

        async def tried_and_failed() -> bool:
            deliveries = (await log(api, admin.token, endpoint["id"]))["deliveries"]
            return any(d["attempts"] > 0 and d["status"] == "pending" for d in deliveries)

        await eventually(tried_and_failed)
        page = await log(api, admin.token, endpoint["id"], status="pending")
        assert page["count"] == 2 * len(LIFECYCLE)  # nothing given up, nothing lost
        failed = next(d for d in page["deliveries"] if d["log"])
        assert failed["log"][0]["status_code"] is None
        assert "Connect" in failed["log"][0]["error"]
    # the service is stopped with everything pending; the schedule is in the database
    await receiver.up()
    try:
        async with service(fast_settings) as api:

            async def all_delivered() -> bool:
                return (await log(api, admin.token, endpoint["id"], status="pending"))["count"] == 0

            await eventually(all_delivered)
            delivered = await log(api, admin.token, endpoint["id"], status="delivered")
    finally:
        await receiver.down()
    assert delivered["count"] == 2 * len(LIFECYCLE)
    assert receiver.refused == 0
    assert len(receiver.ids) == len(set(receiver.ids)) == 2 * len(LIFECYCLE)
    written = await outbox_ids(sessions, endpoint["id"])
    for conversation in (first, second):
        arrived = [e["id"] for e in receiver.events if about(e, conversation)]
        assert arrived == written[conversation["id"]]
        types = [e["type"] for e in receiver.events if e["id"] in arrived]
        assert types == LIFECYCLE
    last = receiver.events[receiver.ids.index(written[first["id"]][-2])]
    assert last["data"]["conversation"]["status"] == "resolved"
    reply = receiver.events[receiver.ids.index(written[first["id"]][3])]
    assert reply["data"]["message"]["text"] == "Let me look at your bill."
    assert receiver.headers[0]["Lumen-Webhook-Event"] == receiver.types[0]


async def test_a_hanging_endpoint_neither_slows_requests_nor_holds_back_other_endpoints(
    sessions, fast_settings
):
    admin = await make_agent(sessions, role=Role.ADMIN)
    agent = await make_agent(sessions, teams=("billing",))
    stuck = Receiver(hang=asyncio.Event())
    healthy = Receiver()
    settings = replace(fast_settings, webhook_timeout_seconds=30.0)
    async with AsyncExitStack() as stack:
        for receiver in (stuck, healthy):
            await receiver.up()
            stack.push_async_callback(receiver.down)
        stack.callback(stuck.hang.set)  # let the hanging request go before the servers stop
        api = await stack.enter_async_context(service(settings))
        stuck.secret = (await register(api, admin.token, stuck.url))["secret"]
        healthy.secret = (await register(api, admin.token, healthy.url))["secret"]
        conversation = await intake(api, handoff_body())
        await work_on(api, agent.token, conversation["id"])

        async def healthy_has_all() -> bool:
            return len(healthy.events) == len(LIFECYCLE)

        await eventually(healthy_has_all)
        assert stuck.waiting == 1  # its first delivery is still hanging, nothing else was sent
        assert stuck.events == []
        assert healthy.types == LIFECYCLE


async def test_a_stopping_service_gives_back_the_delivery_it_was_sending(sessions, fast_settings):
    admin = await make_agent(sessions, role=Role.ADMIN)
    stuck = Receiver(hang=asyncio.Event())
    settings = replace(fast_settings, webhook_timeout_seconds=30.0)
    await stuck.up()
    try:
        async with service(settings) as api:
            stuck.secret = (await register(api, admin.token, stuck.url))["secret"]
            await intake(api, handoff_body())

            async def sending() -> bool:
                return stuck.waiting == 1

            await eventually(sending)
        # stopped mid-attempt: the next instance may send it at once, not after the lease
        async with sessions() as session:
            [(status, lease)] = (
                await session.execute(select(WebhookDelivery.status, WebhookDelivery.lease_until))
            ).all()
        assert (status, lease) == ("pending", None)
    finally:
        stuck.hang.set()
        await stuck.down()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def make_sender(sessions, http, clock: Clock, **policy: Any) -> WebhookSender:
    return WebhookSender(sessions, http, SenderPolicy(**policy), clock=clock)


async def test_backoff_gives_up_after_the_retry_window_and_a_redeliver_sends_it_again(
    sessions, fast_settings
):
    admin = await make_agent(sessions, role=Role.ADMIN)
    receiver = Receiver(failures=[500] * 5)
    await receiver.up()
    try:
        async with service(replace(fast_settings, webhook_sender=False)) as api:
            endpoint = await register(api, admin.token, receiver.url, ["handoff.created"])
            receiver.secret = endpoint["secret"]
            await intake(api, handoff_body())
            clock = Clock()
            async with aiohttp.ClientSession() as http:
                sender = await make_sender(
                    sessions,
                    http,
                    clock,
                    backoff_seconds=10,
                    max_backoff_seconds=40,
                    retry_for=timedelta(seconds=100),
                )
                pauses = []
                while True:
                    assert await sender.run_once() == 0
                    [delivery] = (await log(api, admin.token, endpoint["id"]))["deliveries"]
                    if delivery["status"] != "pending":
                        break
                    due = datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
                    pauses.append(round((due - clock.now).total_seconds()))
                    clock.advance(1)
                    assert await sender.run_once() == 0  # not due yet: nothing is sent
                    clock.now = due + timedelta(milliseconds=1)  # the view has ms
                assert pauses == [10, 20, 40, 40]  # doubling, capped
                assert delivery["status"] == "failed"  # 100 s after it was written
                assert [a["status_code"] for a in delivery["log"]] == [500] * 5
                assert receiver.events == []

                answer = await api.post(
                    f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver", token=admin.token
                )
                assert answer.status == 200 and answer.body["status"] == "pending"
                assert await sender.run_once() == 1
    finally:
        await receiver.down()
    assert receiver.ids == [delivery["event_id"]]


async def test_a_refused_event_holds_back_its_own_conversation_only(sessions, fast_settings):
    admin = await make_agent(sessions, role=Role.ADMIN)
    agent = await make_agent(sessions, teams=("billing",))
    receiver = Receiver()
    await receiver.up()
    try:
        async with service(replace(fast_settings, webhook_sender=False)) as api:
            events = ["handoff.created", "conversation.assigned"]
            endpoint = await register(api, admin.token, receiver.url, events)
            receiver.secret = endpoint["secret"]
            first, second = await intake(api, handoff_body()), await intake(api, handoff_body())
            for conversation in (first, second):
                path = f"/api/v1/conversations/{conversation['id']}/claim"
                assert (await api.post(path, token=agent.token)).status == 200
            receiver.refuse = {first["id"]}
            clock = Clock()
            async with aiohttp.ClientSession() as http:
                sender = await make_sender(sessions, http, clock, backoff_seconds=60)
                assert await sender.run_once() == 2  # second's two; first's "created" got a 500
                assert [e["data"]["conversation"]["id"] for e in receiver.events] == [
                    second["id"],
                    second["id"],
                ]
                receiver.refuse.clear()
                assert await sender.run_once() == 0  # first's waits out its own backoff
                clock.advance(60)
                assert await sender.run_once() == 2
            health = (await api.get(f"/api/v1/webhooks/{endpoint['id']}", token=admin.token)).body
    finally:
        await receiver.down()
    assert receiver.types == events * 2
    assert [e["data"]["conversation"]["id"] for e in receiver.events[2:]] == [first["id"]] * 2
    assert (health["failures"], health["paused_until"], health["pending"]) == (0, None, 0)


async def test_two_senders_at_once_send_each_delivery_once(sessions, fast_settings):
    admin = await make_agent(sessions, role=Role.ADMIN)
    receiver = Receiver()
    await receiver.up()
    try:
        async with service(replace(fast_settings, webhook_sender=False)) as api:
            endpoint = await register(api, admin.token, receiver.url, ["handoff.created"])
            receiver.secret = endpoint["secret"]
            for _ in range(20):
                await intake(api, handoff_body())
            clock = Clock()
            async with aiohttp.ClientSession() as http:
                senders = [await make_sender(sessions, http, clock) for _ in range(2)]
                sent = await asyncio.gather(*(sender.run_once() for sender in senders))
    finally:
        await receiver.down()
    assert sum(sent) == 20
    assert len(receiver.ids) == len(set(receiver.ids)) == 20


async def test_admins_register_endpoints_with_checked_input_and_see_secrets_once(sessions, client):
    admin = await make_agent(sessions, role=Role.ADMIN)
    supervisor = await make_agent(sessions, role=Role.SUPERVISOR)
    good = {"url": "https://crm.example/hooks", "events": ["conversation.resolved"]}
    refused = await client.post("/api/v1/webhooks", json=good, token=supervisor.token)
    assert refused.status == 403
    for change, field in (
        ({"url": "ftp://crm.example/x"}, "url"),
        ({"url": "https://user:pw@crm.example/x"}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["conversation.exploded"]}, "events"),
        ({"description": "x" * 201}, "description"),
        ({"active": "yes"}, "active"),
    ):
        answer = await client.post("/api/v1/webhooks", json={**good, **change}, token=admin.token)
        assert answer.status == 422, change
        assert answer.body["error"] == f"invalid_{field}", change
    assert (await client.get("/api/v1/webhooks", token=admin.token)).body["webhooks"] == []

    created = await client.post("/api/v1/webhooks", json=good, token=admin.token)
    assert created.status == 201 and created.body["secret"].startswith("whsec_")
    listed = (await client.get("/api/v1/webhooks", token=admin.token)).body
    assert listed["events"] == list(EVENTS)
    [shown] = listed["webhooks"]
    assert "secret" not in shown and shown["events"] == ["conversation.resolved"]
    path = f"/api/v1/webhooks/{shown['id']}"
    rotated = await client.post(f"{path}/rotate-secret", token=admin.token)
    assert rotated.body["secret"] not in (created.body["secret"], None)
    changed = await client.request(
        "PATCH", path, json={"active": False, "events": ["sla.breached"]}, token=admin.token
    )
    assert changed.status == 200
    assert (changed.body["active"], changed.body["events"]) == (False, ["sla.breached"])
    assert (await client.request("DELETE", path, token=admin.token)).status == 204
    assert (await client.get(path, token=admin.token)).status == 404
    missing = await client.post("/api/v1/webhook-deliveries/999/redeliver", token=admin.token)
    assert missing.status == 404


async def test_a_change_that_fails_writes_no_event_and_inactive_endpoints_get_none(
    sessions, client
):
    admin = await make_agent(sessions, role=Role.ADMIN)
    ana = await make_agent(sessions, teams=("billing",))
    ben = await make_agent(sessions, teams=("billing",))
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["conversation.assigned"]}
    live = (await client.post("/api/v1/webhooks", json=hook, token=admin.token)).body
    idle = (
        await client.post("/api/v1/webhooks", json={**hook, "active": False}, token=admin.token)
    ).body
    conversation = await intake(client, handoff_body())
    path = f"/api/v1/conversations/{conversation['id']}/claim"
    assert (await client.post(path, token=ana.token)).status == 200
    assert (await client.post(path, token=ben.token)).status == 409
    async with sessions() as session:
        query = select(WebhookDelivery.endpoint_id, func.count()).group_by(
            WebhookDelivery.endpoint_id
        )
        counts = {endpoint_id: count for endpoint_id, count in (await session.execute(query))}
    assert counts == {live["id"]: 1}
    assert idle["id"] not in counts


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
async def test_retention_removes_the_outbox_rows_that_carry_a_transcript(sessions, client, mode):
    admin = await make_agent(sessions, role=Role.ADMIN)
    agent = await make_agent(sessions, teams=("billing",))
    hook = {"url": "http://127.0.0.1:9/hooks", "events": list(EVENTS)}
    assert (await client.post("/api/v1/webhooks", json=hook, token=admin.token)).status == 201
    old, recent = await intake(client, handoff_body()), await intake(client, handoff_body())
    await work_on(client, agent.token, old["id"])  # resolved; `recent` is still queued
    later = datetime.now(timezone.utc) + timedelta(days=60)
    report = await apply_retention(sessions, RetentionPolicy(days=30, mode=mode), later)
    assert report.conversations == 1
    async with sessions() as session:
        kept = set(await session.scalars(select(WebhookDelivery.conversation_id).distinct()))
    assert kept == {recent["id"]}


async def test_erasing_a_customer_deletes_their_outbox_rows(sessions, client):
    admin = await make_agent(sessions, role=Role.ADMIN)
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["handoff.created"]}
    assert (await client.post("/api/v1/webhooks", json=hook, token=admin.token)).status == 201
    erased, kept = await intake(client, handoff_body()), await intake(client, handoff_body())
    async with fake_server([(200, {"counts": {}})]) as bot, aiohttp.ClientSession() as http:
        erasure = ErasureService(sessions, http, bot.url, "test-erasure-token")
        record = await erasure.request(Requester("test"), conversation_pk=erased["id"])
    assert record["status"] == "done"
    assert record["counts"]["handoff_store"]["webhook_deliveries"] == 1
    async with sessions() as session:
        left = set(await session.scalars(select(WebhookDelivery.conversation_id)))
    assert left == {kept["id"]}
