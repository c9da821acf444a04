"""The WhatsApp input channel mounted on a real sanic app, sending to the local Graph stand-in.

`on_new_message` stands in for Rasa: it records each UserMessage and answers through the
message's output channel, as Rasa's agent does.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage

from connectors.common.inbox import Inbox
from connectors.common.signature import sign_meta_payload
from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp.settings import WhatsAppSettings
from harness.service import eventually
from tests.connectors import sanic_app, serving
from tools.simulator.graph_api import GraphApiStandIn

FIXTURES = Path(__file__).parents[1] / "fixtures" / "whatsapp"
APP_SECRET = "whatsapp-app-secret"
VERIFY_TOKEN = "verify-me"
WA_ID = "16505551234"


def settings(graph: GraphApiStandIn, state_path: Path, **extra: Any) -> WhatsAppSettings:
    return WhatsAppSettings.from_credentials(
        {
            "verify_token": VERIFY_TOKEN,
            "app_secret": APP_SECRET,
            "access_token": graph.access_token,
            "phone_number_id": "106540352242922",
            "deliver_token": "deliver-secret",
            "graph_url": f"{graph.url}/v21.0",
            "state_path": str(state_path),
            **extra,
        }
    )


@dataclass
class Bench:
    url: str
    channel: WhatsAppInput
    graph: GraphApiStandIn
    received: list[UserMessage] = field(default_factory=list)

    async def post(self, body: bytes, signature: str | None = "sign") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign_meta_payload(body, APP_SECRET)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}/webhooks/whatsapp/webhook", data=body, headers=headers
            ) as answer,
        ):
            return answer.status, await answer.json()

    async def deliver(self, payload: bytes) -> tuple[int, Any]:
        status, body = await self.post(payload)
        await self.channel.tasks.wait_idle()
        return status, body


@pytest.fixture
async def graph() -> AsyncIterator[GraphApiStandIn]:
    async with GraphApiStandIn() as stand_in:
        yield stand_in


def mount(channel: WhatsAppInput, received: list[UserMessage]):
    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(
            message.sender_id, f"You said {message.text}"
        )

    app = sanic_app("whatsapp")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    return app


@pytest.fixture
async def bench(graph: GraphApiStandIn, tmp_path: Path) -> AsyncIterator[Bench]:
    channel = WhatsAppInput(settings(graph, tmp_path / "state.sqlite3"))
    received: list[UserMessage] = []
    async with serving(mount(channel, received)) as url:
        yield Bench(url, channel, graph, received)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


async def test_a_text_reaches_rasa_with_metadata_and_the_bot_answers(bench: Bench) -> None:
    status, _ = await bench.deliver(fixture_bytes("text"))
    assert status == 200
    [message] = bench.received
    assert message.text == "Does it come in another color?"
    assert message.sender_id == WA_ID
    assert message.input_channel == "whatsapp"
    assert message.message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.metadata["profile_name"] == "Sheena Nelson"
    assert message.metadata["channel"] == "whatsapp"
    [reply] = bench.graph.sent
    assert reply["to"] == WA_ID
    assert reply["text"]["body"] == "🤖 You said Does it come in another color?"


async def test_a_button_reply_reaches_rasa_as_its_payload(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("interactive_button_reply"))
    assert [m.text for m in bench.received] == ["/stay_and_chat"]


async def test_every_message_of_a_batch_is_processed_in_order(bench: Bench) -> None:
    status, _ = await bench.deliver(fixture_bytes("batch"))
    assert status == 200
    assert [(m.sender_id, m.text) for m in bench.received] == [
        (WA_ID, "Hi"),
        (WA_ID, "My hub is offline"),
        ("4915112345678", "Hello from another customer"),
    ]
    assert [r["to"] for r in bench.graph.sent] == [WA_ID, WA_ID, "4915112345678"]


async def test_a_retried_webhook_reaches_rasa_once(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("text"))
    status, _ = await bench.deliver(fixture_bytes("text"))
    assert status == 200
    assert len(bench.received) == 1
    assert len(bench.graph.sent) == 1


async def test_a_message_seen_before_a_restart_is_not_processed_again(
    graph: GraphApiStandIn, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    lives: list[list[UserMessage]] = []
    for _ in range(2):  # two lives of the connector sharing the state file
        received: list[UserMessage] = []
        channel = WhatsAppInput(settings(graph, state))
        async with serving(mount(channel, received)) as url:
            await Bench(url, channel, graph, received).deliver(fixture_bytes("text"))
        lives.append(received)
    assert [len(received) for received in lives] == [1, 0]


def reaches(items: Sequence[object], count: int) -> Callable[[], Awaitable[bool]]:
    """A check for `eventually`: `items` has `count` entries."""

    async def check() -> bool:
        return len(items) >= count

    return check


async def test_a_message_accepted_by_a_process_that_died_is_answered_after_its_lease(
    graph: GraphApiStandIn, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    webhook = json.loads(fixture_bytes("text"))
    [message] = webhook["entry"][0]["changes"][0]["value"]["messages"]
    died = Inbox(state, "whatsapp", lease_seconds=0)  # answered 200, then killed
    await died.accept(WA_ID, message["id"], {"webhook": webhook})
    channel = WhatsAppInput(settings(graph, state, inbox_lease_seconds="0.2"))
    received: list[UserMessage] = []
    async with serving(mount(channel, received)):
        await eventually(reaches(received, 1), 10)
        await asyncio.sleep(0.6)  # further replay rounds find nothing to do
    assert [(m.sender_id, m.message_id, m.text) for m in received] == [
        (WA_ID, message["id"], "Does it come in another color?")
    ]
    assert [reply["to"] for reply in graph.sent] == [WA_ID]


async def test_a_turn_that_failed_runs_again_after_the_lease_and_only_once_more(
    graph: GraphApiStandIn, tmp_path: Path
) -> None:
    channel = WhatsAppInput(settings(graph, tmp_path / "state.sqlite3", inbox_lease_seconds="0.2"))
    tries: list[str] = []

    async def rasa_down_once(message: UserMessage) -> None:
        tries.append(message.text or "")
        if len(tries) == 1:
            raise ConnectionError("the action server is restarting")
        await message.output_channel.send_text_message(message.sender_id, "Blue, yes.")

    app = sanic_app("whatsapp")
    app.blueprint(channel.blueprint(rasa_down_once), url_prefix="/webhooks/whatsapp")
    async with serving(app) as url:
        status, _ = await Bench(url, channel, graph).deliver(fixture_bytes("text"))
        await eventually(reaches(tries, 2), 10)
        await channel.tasks.wait_idle()
        await asyncio.sleep(0.6)
    assert status == 200
    assert tries == ["Does it come in another color?"] * 2
    assert [reply["text"]["body"] for reply in graph.sent] == ["🤖 Blue, yes."]


async def test_a_webhook_that_could_not_be_stored_is_503_and_meta_s_retry_is_handled(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_full(*_: Any) -> set[str]:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(bench.channel.inbox, "accept_all", disk_full)
        status, body = await bench.deliver(fixture_bytes("text"))
    assert (status, body["error"]) == (503, "not_stored")
    assert bench.received == []
    status, _ = await bench.deliver(fixture_bytes("text"))  # Meta sends it again
    assert status == 200
    assert [m.text for m in bench.received] == ["Does it come in another color?"]


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, sign_meta_payload(b"other body", APP_SECRET), "sha1=abc"],
    ids=["missing", "zeros", "other-body", "sha1"],
)
async def test_a_bad_signature_is_403_and_nothing_is_processed(
    bench: Bench, signature: str | None
) -> None:
    status, body = await bench.post(fixture_bytes("text"), signature=signature)
    await bench.channel.tasks.wait_idle()
    assert (status, body["error"]) == (403, "invalid_signature")
    assert bench.received == []
    # and the id was not recorded: the properly signed retry still goes through
    await bench.deliver(fixture_bytes("text"))
    assert len(bench.received) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        # JSON, but not a WhatsApp webhook: the same answer as Messenger's (the shared base)
        (b"[1, 2]", "malformed_payload"),
        (b'"text"', "malformed_payload"),
        (b'{"object": "page", "entry": []}', "malformed_payload"),
    ],
)
async def test_a_malformed_body_is_400_and_nothing_is_stored(
    bench: Bench, body: bytes, error: str
) -> None:
    status, answer = await bench.post(body)
    await bench.channel.tasks.wait_idle()
    assert (status, answer["error"]) == (400, error)
    assert bench.received == []
    assert not bench.channel.state.path.exists()


DEEP = b"[" * 100_000 + b"]" * 100_000  # validly signed below: RecursionError on main


async def test_deeply_nested_json_is_400_after_the_signature_check(bench: Bench) -> None:
    unsigned, _ = await bench.post(DEEP, signature="sha256=" + "0" * 64)
    status, answer = await bench.post(DEEP)
    assert (unsigned, status, answer["error"]) == (403, 400, "too_deep")
    assert bench.received == []


async def test_a_body_over_meta_s_3_mb_is_413_and_nothing_is_handled(bench: Bench) -> None:
    payload = json.loads(fixture_bytes("text"))
    payload["padding"] = "x" * (3 * 1024 * 1024)
    status, answer = await bench.post(json.dumps(payload).encode())
    await bench.channel.tasks.wait_idle()
    assert (status, answer["error"]) == (413, "too_large")
    assert bench.received == []


async def test_an_unsupported_message_gets_a_polite_reply_and_no_rasa_turn(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("unsupported"))
    assert bench.received == []
    [reply] = bench.graph.sent
    assert (
        reply["text"]["body"]
        == "🤖 Sorry, I can't read that kind of message yet; could you type it?"
    )


async def test_a_reaction_reaches_rasa_as_a_reaction_not_as_text(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("reaction"))
    [message] = bench.received
    reaction = json.loads(fixture_bytes("reaction"))["entry"][0]["changes"][0]["value"]["messages"][
        0
    ]["reaction"]
    assert message.text == "/reacted"
    assert message.metadata["reaction"] == {
        "message_id": reaction["message_id"],
        "emoji": reaction["emoji"],
    }


async def test_statuses_are_recorded_latest_last(bench: Bench) -> None:
    for name in ("status_read", "status_sent", "status_delivered", "status_read"):
        await bench.deliver(fixture_bytes(name))
    message_id = json.loads(fixture_bytes("status_read"))["entry"][0]["changes"][0]["value"][
        "statuses"
    ][0]["id"]
    statuses = await bench.channel.state.statuses_for(message_id)
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert bench.received == []


async def test_a_failed_status_keeps_the_error(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("status_failed"))
    [message_id] = [
        s["id"]
        for s in json.loads(fixture_bytes("status_failed"))["entry"][0]["changes"][0]["value"][
            "statuses"
        ]
    ]
    [failed] = await bench.channel.state.statuses_for(message_id)
    assert (failed.status, failed.error_code, failed.error_title) == (
        "failed",
        131047,
        "Re-engagement message",
    )


async def get(url: str, params: dict[str, str]) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as answer:
        return answer.status, answer.content_type, await answer.text()


async def test_the_verification_handshake_echoes_the_challenge(bench: Bench) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    assert await get(f"{bench.url}/webhooks/whatsapp/webhook", params) == (
        200,
        "text/plain",
        "1158201444",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
    ids=["wrong-token", "wrong-mode", "no-token"],
)
async def test_a_wrong_handshake_is_403(bench: Bench, params: dict[str, str]) -> None:
    status, _, text = await get(f"{bench.url}/webhooks/whatsapp/webhook", params)
    assert status == 403
    assert "1" not in text
