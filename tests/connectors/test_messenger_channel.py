"""The Messenger input channel on a real sanic app, with a recording `on_new_message` (Rasa's
InputChannel contract), a real SQLite state file and the local Graph API stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from connectors.common.signature import sign_meta_payload
from connectors.messenger import MessengerInput
from connectors.messenger.state import DeliveryStatus
from tests.connectors import sanic_app, serving
from tests.connectors.test_messenger_client import (
    TOKEN,
    UNAVAILABLE,
    messenger_graph,
    sent_messages,
    sent_texts,
)
from tools.simulator.graph_api import GraphApiStandIn, GraphError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "messenger"
SECRET = "app-secret"
DELIVER_TOKEN = "deliver-secret"
PSID = "6543210987654321"
DAY = 86400


def credentials(graph_url: str, state_path: Path) -> dict[str, Any]:
    return {
        "verify_token": "verify-me",
        "app_secret": SECRET,
        "page_access_token": TOKEN,
        "deliver_token": DELIVER_TOKEN,
        "graph_url": graph_url,
        "state_path": str(state_path),
    }


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def text_from(psid: str, mid: str, text: str, sent_at: float) -> bytes:
    event = {
        "sender": {"id": psid},
        "recipient": {"id": "106540352242922"},
        "timestamp": int(sent_at * 1000),
        "message": {"mid": mid, "text": text},
    }
    entry = {"id": "106540352242922", "time": int(sent_at * 1000), "messaging": [event]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


@dataclass
class Harness:
    """The channel served on loopback; `received` is what Rasa would have been handed."""

    url: str
    channel: MessengerInput
    graph: GraphApiStandIn
    agent: Agent
    received: list[UserMessage] = field(default_factory=list)

    async def post(
        self, body: bytes, signature: str | None = "sign", path: str = "/webhook"
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign_meta_payload(body, SECRET)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        status, answer = await self.request("POST", path, data=body, headers=headers)
        await self.channel.tasks.wait_idle()
        return status, answer

    async def deliver(self, body: dict[str, Any], token: str = DELIVER_TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        return await self.request("POST", "/deliver", json=body, headers=headers)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, **kwargs) as answer,
        ):
            if answer.content_type == "application/json":
                return answer.status, await answer.json()
            return answer.status, await answer.text()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with messenger_graph() as graph:
        channel = MessengerInput.from_credentials(
            credentials(graph.url + "/v21.0", tmp_path / "state.db")
        )
        domain = Domain.empty()
        agent = Agent(domain=domain, tracker_store=InMemoryTrackerStore(domain))
        received: list[UserMessage] = []

        async def on_new_message(message: UserMessage) -> None:
            received.append(message)
            await message.output_channel.send_response(message.sender_id, {"text": "Got it"})

        app = sanic_app("messenger")
        app.ctx.agent = agent
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/messenger")
        async with serving(app) as base:
            yield Harness(base + "/webhooks/messenger", channel, graph, agent, received)


# Webhook verification and bad input


async def test_meta_subscription_check_echoes_the_challenge(harness: Harness) -> None:
    query = "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
    assert await harness.request("GET", "/webhook" + query) == (200, "1158201444")


async def test_a_wrong_verify_token_is_refused(harness: Harness) -> None:
    query = "?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444"
    status, body = await harness.request("GET", "/webhook" + query)
    assert (status, body["error"]) == (403, "invalid_verify_token")


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "sha1=abc", sign_meta_payload(b"other body", SECRET)],
)
async def test_unsigned_or_wrongly_signed_webhooks_are_refused_and_change_nothing(
    harness: Harness, signature: str | None
) -> None:
    status, body = await harness.post(fixture("text"), signature=signature)
    assert (status, body["error"]) == (403, "invalid_signature")
    assert harness.received == []
    assert harness.graph.sent == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b'{"object": "page", "entry": {}}', "malformed_payload"),
        (b"[]", "malformed_payload"),
    ],
)
async def test_malformed_bodies_get_400(harness: Harness, body: bytes, error: str) -> None:
    status, answer = await harness.post(body)
    assert (status, answer["error"]) == (400, error)
    assert harness.received == []


async def test_deeply_nested_json_is_400_after_the_signature_check(harness: Harness) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # validly signed: RecursionError on main
    unsigned, _ = await harness.post(deep, signature="sha256=" + "0" * 64)
    status, answer = await harness.post(deep)
    assert (unsigned, status, answer["error"]) == (403, 400, "too_deep")
    assert harness.received == []


async def test_a_body_over_3_mb_is_413_and_nothing_is_handled(harness: Harness) -> None:
    payload = json.loads(fixture("text"))
    payload["padding"] = "x" * (3 * 1024 * 1024)
    status, answer = await harness.post(json.dumps(payload).encode())
    assert (status, answer["error"]) == (413, "too_large")
    assert harness.received == []


# Customer messages


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("text", "My thermostat keeps rebooting"),
        ("quick_reply", "/stay_and_chat"),
        ("postback", "/request_human"),
        # nothing typed: the attachment as an intent, never empty text (read as "yes")
        ("attachment_image", '/shared_attachment{"attachment_kind": "image"}'),
        ("attachment_location", '/shared_attachment{"attachment_kind": "location"}'),
    ],
)
async def test_a_customer_message_reaches_rasa_with_its_metadata(
    harness: Harness, name: str, text: str
) -> None:
    assert (await harness.post(fixture(name)))[0] == 200
    (message,) = harness.received
    assert (message.text, message.sender_id, message.input_channel) == (text, PSID, "messenger")
    assert message.message_id == message.metadata["mid"]
    assert message.metadata["channel"] == "messenger"
    assert message.metadata["psid"] == PSID
    assert "attachments" in message.metadata


async def test_typing_is_shown_before_the_bot_reply(harness: Harness) -> None:
    await harness.post(fixture("text"))
    assert [body for body in harness.graph.sent if body is not None] == [  # not the profile GET
        {"recipient": {"id": PSID}, "sender_action": "typing_on"},
        {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "🤖 Got it", "metadata": "care-handoff"},
        },
    ]


async def test_no_typing_bubbles_while_a_person_owns_the_conversation(harness: Harness) -> None:
    tracker = DialogueStateTracker.from_events(PSID, [ConversationPaused()])
    await harness.agent.tracker_store.save(tracker)
    await harness.post(fixture("text"))
    assert len(harness.received) == 1
    assert all("sender_action" not in (body or {}) for body in harness.graph.sent)


async def test_every_event_of_every_entry_in_a_batch_is_handled(harness: Harness) -> None:
    await harness.post(fixture("batch"))
    assert [(m.sender_id, m.text) for m in harness.received] == [
        (PSID, "hello"),
        (PSID, "my plug is offline"),
        ("7777777777777777", "I need a refund"),
        ("7777777777777777", "/request_human"),
    ]
    status = await harness.channel.state.delivery_status(PSID)
    assert status == DeliveryStatus(delivered_until_ms=None, read_until_ms=1732352789000)


@pytest.mark.parametrize("name", ["standby", "echo_text", "echo_image"])
async def test_standby_and_echoes_are_not_customer_messages(harness: Harness, name: str) -> None:
    assert (await harness.post(fixture(name)))[0] == 200
    assert harness.received == []
    assert harness.graph.sent == []


async def test_a_retried_webhook_is_handled_once(harness: Harness) -> None:
    await harness.post(fixture("text"))
    await harness.post(fixture("text"))
    assert len(harness.received) == 1


async def test_a_message_seen_before_a_restart_is_not_handled_again(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.post(fixture("quick_reply"))
    restarted = MessengerInput.from_credentials(credentials("http://unused", tmp_path / "state.db"))
    event = json.loads(fixture("quick_reply"))["entry"][0]["messaging"][0]
    sender, mid = event["sender"]["id"], event["message"]["mid"]
    assert not await restarted.inbox.accept(sender, mid, {})


async def test_delivery_and_read_watermarks_keep_the_latest(harness: Harness) -> None:
    await harness.post(fixture("batch"))  # read up to 1732352789000
    await harness.post(fixture("read"))  # a late, older read receipt
    await harness.post(fixture("delivery"))
    assert await harness.channel.state.delivery_status(PSID) == DeliveryStatus(
        delivered_until_ms=1732352760253, read_until_ms=1732352789000
    )


# Deliver endpoint (agent and system lines from the handoff service)


def deliver_body(**changes: Any) -> dict[str, Any]:
    body = {
        "conversation_id": PSID,
        "channel": "messenger",
        "message_id": "hm-1",
        "author_type": "agent",
        "author_name": "Dana",
        "text": "Hi, Dana here. Let's fix that thermostat.",
    }
    return {**body, **changes}


async def customer_wrote(harness: Harness, days_ago: float) -> None:
    sent_at = time.time() - days_ago * DAY
    await harness.post(text_from(PSID, f"m_{days_ago}", "hello?", sent_at))
    harness.graph.requests.clear()


@pytest.mark.parametrize(
    ("days_ago", "messaging_type", "tag"),
    [
        (0.1, "RESPONSE", None),
        (3, "MESSAGE_TAG", "HUMAN_AGENT"),
        (6.9, "MESSAGE_TAG", "HUMAN_AGENT"),
    ],
)
async def test_an_agent_reply_goes_out_as_the_messaging_window_allows(
    harness: Harness, days_ago: float, messaging_type: str, tag: str | None
) -> None:
    await customer_wrote(harness, days_ago)
    status, body = await harness.deliver(deliver_body())
    assert (status, body) == (200, {"status": "sent", "channel_message_id": "m_standin2"})
    (sent,) = sent_messages(harness.graph)
    assert sent["messaging_type"] == messaging_type
    assert sent.get("tag") == tag
    assert sent["message"]["text"] == "Dana (Lumen Home): Hi, Dana here. Let's fix that thermostat."


async def test_after_seven_days_nothing_is_sent_and_the_agent_is_told_why(
    harness: Harness,
) -> None:
    await customer_wrote(harness, 9.2)
    status, body = await harness.deliver(deliver_body())
    assert (status, body) == (
        422,
        {
            "error": "outside_messaging_window",
            "message": "The customer last wrote 9 days ago; "
            "Messenger allows a person to reply for 7 days only.",
        },
    )
    assert harness.graph.sent == []


async def test_the_service_tag_goes_out_on_a_persons_reply_only(harness: Harness) -> None:
    await customer_wrote(harness, 3)
    status, _ = await harness.deliver(deliver_body(tag="HUMAN_AGENT"))
    assert status == 200
    (sent,) = sent_messages(harness.graph)
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    harness.graph.requests.clear()
    notice = deliver_body(message_id="hm-notice", author_type="system", author_name=None)
    status, body = await harness.deliver(notice)
    assert (status, body["error"]) == (422, "outside_messaging_window")
    assert sent_messages(harness.graph) == []


async def test_a_template_is_refused_on_messenger(harness: Harness) -> None:
    await customer_wrote(harness, 0.1)
    template = {"name": "agent_follow_up", "language": "en", "parameters": []}
    status, body = await harness.deliver(deliver_body(template=template))
    assert (status, body["error"]) == (422, "template_unsupported")
    assert harness.graph.sent == []


async def test_a_delivered_line_is_recorded_in_the_tracker(harness: Harness) -> None:
    await customer_wrote(harness, 0.1)
    await harness.deliver(deliver_body(author_type="system", text="Dana from support joined"))
    assert sent_texts(harness.graph) == ["Dana from support joined"]
    tracker = await harness.agent.tracker_store.retrieve(PSID)
    (line,) = [e for e in tracker.events if isinstance(e, BotUttered)]
    assert line.metadata["handoff_message_id"] == "hm-1"
    assert line.metadata["channel_message_id"] == "m_standin2"


async def test_the_window_falls_back_to_the_trackers_last_messenger_message(
    harness: Harness,
) -> None:
    wrote_at = time.time() - 2 * DAY
    tracker = DialogueStateTracker.from_events(
        PSID,
        [
            UserUttered("hello", input_channel="messenger", timestamp=wrote_at),
            ActionExecuted("action_listen"),
            # a trigger_intent (return to bot) is not the customer writing
            UserUttered("/handoff_ended", input_channel=None, timestamp=time.time()),
        ],
    )
    await harness.agent.tracker_store.save(tracker)
    assert (await harness.deliver(deliver_body()))[0] == 200
    assert sent_messages(harness.graph)[0]["tag"] == "HUMAN_AGENT"


async def test_an_intent_triggered_through_rasas_api_does_not_reopen_the_window(
    harness: Harness,
) -> None:
    """What Rasa records for trigger_intent: the latest input channel and `is_external`."""
    external = UserUttered.create_external("handoff_ended", input_channel="messenger")
    external.timestamp = time.time()
    tracker = DialogueStateTracker.from_events(
        PSID,
        [
            UserUttered("hello", input_channel="messenger", timestamp=time.time() - 8 * DAY),
            ActionExecuted("action_listen"),
            external,
        ],
    )
    await harness.agent.tracker_store.save(tracker)
    status, body = await harness.deliver(deliver_body())
    assert (status, body["error"]) == (422, "outside_messaging_window")
    assert sent_messages(harness.graph) == []


async def test_a_customer_who_never_wrote_cannot_be_messaged(harness: Harness) -> None:
    status, body = await harness.deliver(deliver_body(conversation_id="123"))
    assert (status, body["error"]) == (422, "no_customer_message")


@pytest.mark.parametrize(
    ("graph_error", "status", "error"),
    [
        (UNAVAILABLE, 422, "channel_rejected"),
    ],
)
async def test_graph_errors_reach_the_agent_with_metas_message(
    harness: Harness, graph_error: GraphError, status: int, error: str
) -> None:
    await customer_wrote(harness, 0.1)
    harness.graph.fail_next(graph_error)
    answer_status, body = await harness.deliver(deliver_body())
    assert (answer_status, body["error"]) == (status, error)
    assert graph_error.message in body["message"]
    tracker = await harness.agent.tracker_store.retrieve(PSID)
    assert tracker is None or not any(isinstance(e, BotUttered) for e in tracker.events)


async def test_a_graph_server_error_is_retried_and_the_line_sent(harness: Harness) -> None:
    """The shared Graph API client retries a 5xx (tenacity), as WhatsApp's always did."""
    await customer_wrote(harness, 0.1)
    harness.graph.fail_next(GraphError(500, 2, "An unexpected error has occurred."))
    status, body = await harness.deliver(deliver_body())
    assert (status, body["status"]) == (200, "sent")
    assert len([r for r in harness.graph.requests if "message" in (r.body or {})]) == 2  # retried


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        (deliver_body(), "wrong", 401),
        (deliver_body(channel="whatsapp"), DELIVER_TOKEN, 422),  # wrong_channel, as every channel
        (deliver_body(text=""), DELIVER_TOKEN, 400),
    ],
)
async def test_bad_deliver_requests_are_refused(
    harness: Harness, body: dict[str, Any], token: str, status: int
) -> None:
    await customer_wrote(harness, 0.1)
    assert (await harness.deliver(body, token))[0] == status
    assert harness.graph.sent == []


# Credentials


@pytest.mark.parametrize(
    "missing", ["verify_token", "app_secret", "page_access_token", "deliver_token"]
)
def test_a_missing_credential_is_named(missing: str, tmp_path: Path) -> None:
    given = credentials("http://unused", tmp_path / "s.db")
    del given[missing]
    with pytest.raises(RasaException, match=f"needs '{missing}'"):
        MessengerInput.from_credentials(given)


def test_optional_credentials_have_defaults() -> None:
    channel = MessengerInput.from_credentials(
        {"verify_token": "v", "app_secret": "s", "page_access_token": "p", "deliver_token": "d"}
    )
    assert channel.settings.bot_marker == "🤖 "
    assert channel.settings.graph_url.startswith("https://graph.facebook.com/")
    assert channel.name() == channel.url_prefix() == "messenger"
