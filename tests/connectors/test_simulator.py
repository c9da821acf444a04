"""The channel simulator: payload builders, Meta-style signing and the recording Graph stand-in.

The CLI runs in-process (`cli.run`) against the real WhatsApp and Messenger input channels on a
sanic app, whose `on_new_message` plays Rasa: the bot answers with buttons, then (as the handoff
service would) an agent line goes out through the channel's deliver endpoint.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage

from connectors.messenger import MessengerInput
from connectors.messenger import parsing as messenger_parsing
from connectors.messenger.client import MessengerClient
from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp import messages as whatsapp_messages
from connectors.whatsapp import parsing as whatsapp_parsing
from connectors.whatsapp.client import GraphApiError, WhatsAppClient
from connectors.whatsapp.settings import WhatsAppSettings
from tests.connectors import sanic_app, serving
from tools.simulator import cli, payloads
from tools.simulator.outbox import author_of_line, read_records, sent_message

FIXTURES = Path(__file__).parents[1] / "fixtures"
DELIVER_TOKEN = "deliver-secret"
ENV = {
    "WHATSAPP_APP_SECRET": "wa-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "wa-verify",
    "WHATSAPP_ACCESS_TOKEN": "wa-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "100200300400500",
    "MESSENGER_APP_SECRET": "ms-app-secret",
    "MESSENGER_VERIFY_TOKEN": "ms-verify",
    "MESSENGER_PAGE_ACCESS_TOKEN": "ms-page-token",
}
BUTTONS = [
    {"title": "Stay and chat", "payload": "/stay_and_chat"},
    {"title": "Talk to a person", "payload": "/request_human"},
]


def fixture(channel: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / channel / f"{name}.json").read_text())


# --- payload builders: the shapes Meta sends, accepted by our parsers --------------------------

SHEENA = payloads.WhatsAppCustomer(
    wa_id="16505551234", name="Sheena Nelson", phone_number_id="106540352242922"
)
MESSENGER_CUSTOMER = payloads.MessengerCustomer()


def test_a_whatsapp_text_is_exactly_what_meta_sends() -> None:
    recorded = fixture("whatsapp", "text")
    message = recorded["entry"][0]["changes"][0]["value"]["messages"][0]
    built = payloads.whatsapp_text(
        SHEENA, message["text"]["body"], message["id"], float(message["timestamp"])
    )
    assert built == recorded


@pytest.mark.parametrize("name", ["text", "quick_reply", "postback", "attachment_image"])
def test_messenger_payloads_are_exactly_what_meta_sends(name: str) -> None:
    recorded = fixture("messenger", name)
    event = recorded["entry"][0]["messaging"][0]
    at = event["timestamp"] / 1000
    content = event.get("message") or event["postback"]
    mid = content["mid"]
    built = {
        "text": lambda: payloads.messenger_text(MESSENGER_CUSTOMER, content.get("text"), mid, at),
        "quick_reply": lambda: payloads.messenger_quick_reply(
            MESSENGER_CUSTOMER, "/stay_and_chat", content.get("text"), mid, at
        ),
        "postback": lambda: payloads.messenger_postback(
            MESSENGER_CUSTOMER, "/request_human", content.get("title"), mid, at
        ),
        "attachment_image": lambda: payloads.messenger_attachment(
            MESSENGER_CUSTOMER, "image", content["attachments"][0]["payload"]["url"], mid, at
        ),
    }[name]()
    assert built == recorded


@pytest.mark.parametrize(
    ("payload", "kind", "text", "detail"),
    [
        (payloads.whatsapp_text(SHEENA, "hi"), "text", "hi", {}),
        (
            payloads.whatsapp_button_reply(SHEENA, "/stay_and_chat", "Stay and chat"),
            "interactive",
            "/stay_and_chat",
            {"reply": {"id": "/stay_and_chat", "title": "Stay and chat"}},
        ),
        (
            payloads.whatsapp_list_reply(SHEENA, "/billing", "Billing", "Invoices"),
            "interactive",
            "/billing",
            {"reply": {"id": "/billing", "title": "Billing", "description": "Invoices"}},
        ),
        (
            payloads.whatsapp_image(SHEENA, "1003383421387256", caption="Red light"),
            "image",
            "Red light",
            {"attachments": {"kind": "image", "media_id": "1003383421387256"}},
        ),
        (
            payloads.whatsapp_location(SHEENA, 52.52, 13.40, name="Home", address="Berlin"),
            "location",
            '/shared_attachment{"attachment_kind": "location"}',
            {"attachments": {"latitude": 52.52, "longitude": 13.40, "name": "Home"}},
        ),
    ],
    ids=["text", "button", "list", "image", "location"],
)
def test_whatsapp_messages_reach_the_bot_as_the_parser_reads_them(
    payload: dict[str, Any], kind: str, text: str, detail: dict[str, Any]
) -> None:
    [message] = whatsapp_parsing.parse_webhook(payload).messages
    assert (message.kind, message.text, message.handling) == (
        kind,
        text,
        whatsapp_parsing.Handling.BOT,
    )
    assert (message.wa_id, message.profile_name) == ("16505551234", "Sheena Nelson")
    metadata = message.rasa_metadata()
    for key, expected in detail.items():
        found = metadata[key][0] if key == "attachments" else metadata[key]
        assert expected.items() <= found.items()


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed"])
def test_a_whatsapp_status_is_parsed_for_the_sent_message(status: str) -> None:
    batch = whatsapp_parsing.parse_webhook(payloads.whatsapp_status(SHEENA, "wamid.X", status))
    [update] = batch.statuses
    assert (update.message_id, update.status, update.recipient_id) == (
        "wamid.X",
        status,
        "16505551234",
    )
    assert (update.error_code is not None) == (status == "failed")


@pytest.mark.parametrize(
    ("payload", "kind", "text", "display_text"),
    [
        (payloads.messenger_text(MESSENGER_CUSTOMER, "hi"), "text", "hi", None),
        (
            payloads.messenger_quick_reply(MESSENGER_CUSTOMER, "/stay_and_chat", "Stay"),
            "quick_reply",
            "/stay_and_chat",
            "Stay",
        ),
        (
            payloads.messenger_postback(MESSENGER_CUSTOMER, "/request_human", "Person"),
            "postback",
            "/request_human",
            "Person",
        ),
        (
            payloads.messenger_attachment(MESSENGER_CUSTOMER, "image", "https://x.test/a.jpg"),
            "attachments",
            '/shared_attachment{"attachment_kind": "image"}',
            None,
        ),
    ],
    ids=["text", "quick_reply", "postback", "attachment"],
)
def test_messenger_events_reach_the_bot_as_the_parser_reads_them(
    payload: dict[str, Any], kind: str, text: str, display_text: str | None
) -> None:
    [event] = messenger_parsing.parse_webhook(payload)
    assert isinstance(event, messenger_parsing.CustomerMessage)
    assert (event.psid, event.kind, event.text, event.display_text) == (
        MESSENGER_CUSTOMER.psid,
        kind,
        text,
        display_text,
    )


def test_every_simulated_message_is_new_to_the_connectors() -> None:
    def ids(build: Any) -> set[str]:
        return {json.dumps(build()) for _ in range(3)}

    assert len(ids(lambda: payloads.whatsapp_text(SHEENA, "hi"))) == 3
    assert len(ids(lambda: payloads.messenger_text(MESSENGER_CUSTOMER, "hi"))) == 3


# --- the stand-in as `serve` runs it --------------------------------------------------------------


async def test_serve_accepts_the_configured_tokens_and_records_every_send(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    async with cli.build_stand_in(ENV, outbox) as graph:
        url = graph.url + "/v21.0"
        whatsapp = WhatsAppClient("100200300400500", ENV["WHATSAPP_ACCESS_TOKEN"], url)
        await whatsapp.send(whatsapp_messages.text_message("447700900123", "🤖 Hello"))
        messenger = MessengerClient(ENV["MESSENGER_PAGE_ACCESS_TOKEN"], url)
        await messenger.send_text("6543210987654321", "🤖 Hi there")
        await messenger.close()
        with pytest.raises(GraphApiError):
            await WhatsAppClient("100200300400500", "stolen", url).send(
                whatsapp_messages.text_message("447700900123", "nope")
            )
    records, _ = read_records(outbox, 0)
    assert [(r["path"], r["status"]) for r in records] == [
        ("/v21.0/100200300400500/messages", 200),
        ("/v21.0/me/messages", 200),
        ("/v21.0/100200300400500/messages", 401),
    ]
    assert [m.text for r in records if (m := sent_message(r))] == [
        "🤖 Hello",
        "🤖 Hi there",
        "nope",
    ]
    assert "stolen" not in outbox.read_text()


async def test_without_configured_tokens_serve_accepts_any(tmp_path: Path) -> None:
    async with cli.build_stand_in({}, None) as graph:
        client = WhatsAppClient("1", "whatever", graph.url + "/v21.0")
        assert await client.send(whatsapp_messages.text_message("447700900123", "hi"))


def test_lines_are_told_apart_as_the_customer_sees_them() -> None:
    assert author_of_line("🤖 How can I help?") == "bot"
    assert author_of_line("Dana (Lumen Home): I'm on it") == "agent"
    assert author_of_line("Dana from support joined") == "system"


# --- the CLI against the real channels ------------------------------------------------------------


@dataclass
class Product:
    """The channels on a sanic app (as in Rasa), sending to the recording stand-in."""

    url: str
    outbox: Path
    received: list[UserMessage] = field(default_factory=list)

    async def cli(
        self, *argv: str, env: dict[str, str] | None = None, secrets_file: str = "/nonexistent"
    ) -> int:
        options = ["--rasa", self.url, "--outbox", str(self.outbox), "--wait", "10"]
        return await cli.run(
            ["--secrets-file", secrets_file, *argv, *options, "--quiet", "0.5"],
            ENV if env is None else env,
        )


@pytest.fixture
async def product(tmp_path: Path) -> AsyncIterator[Product]:
    outbox = tmp_path / "outbox.jsonl"
    state = str(tmp_path / "state.sqlite3")
    async with cli.build_stand_in(ENV, outbox) as graph:
        graph_url = graph.url + "/v21.0"
        whatsapp = WhatsAppInput(
            WhatsAppSettings.from_credentials(
                {
                    "verify_token": ENV["WHATSAPP_VERIFY_TOKEN"],
                    "app_secret": ENV["WHATSAPP_APP_SECRET"],
                    "access_token": ENV["WHATSAPP_ACCESS_TOKEN"],
                    "phone_number_id": ENV["WHATSAPP_PHONE_NUMBER_ID"],
                    "deliver_token": DELIVER_TOKEN,
                    "graph_url": graph_url,
                    "state_path": state,
                }
            )
        )
        messenger = MessengerInput.from_credentials(
            {
                "verify_token": ENV["MESSENGER_VERIFY_TOKEN"],
                "app_secret": ENV["MESSENGER_APP_SECRET"],
                "page_access_token": ENV["MESSENGER_PAGE_ACCESS_TOKEN"],
                "deliver_token": DELIVER_TOKEN,
                "graph_url": graph_url,
                "state_path": state,
            }
        )
        app = sanic_app("simulator")
        product = Product("", outbox)

        async def on_new_message(message: UserMessage) -> None:
            """Rasa's turn, then an agent line through the deliver endpoint."""
            product.received.append(message)
            await message.output_channel.send_text_with_buttons(
                message.sender_id, f"You said {message.text}", BUTTONS
            )
            line = {
                "conversation_id": message.sender_id,
                "channel": message.input_channel,
                "message_id": f"hm-{len(product.received)}",
                "author_type": "agent",
                "author_name": "Dana",
                "text": "I'm on it",
            }
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{product.url}/webhooks/{message.input_channel}/deliver",
                    json=line,
                    headers={"Authorization": f"Bearer {DELIVER_TOKEN}"},
                ) as answer,
            ):
                assert answer.status == 200, await answer.text()

        for channel in (whatsapp, messenger):
            app.blueprint(
                channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}"
            )
        async with serving(app) as url:
            product.url = url
            yield product


async def test_a_whatsapp_message_gets_the_bot_and_agent_replies_printed(
    product: Product, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await product.cli("whatsapp", "hi", "--from", "447700900999", "--name", "Ana") == 0
    [message] = product.received
    assert (message.sender_id, message.text) == ("447700900999", "hi")
    assert message.metadata["profile_name"] == "Ana"
    out = capsys.readouterr().out
    assert "/webhooks/whatsapp/webhook -> 200" in out
    assert "bot    🤖 You said hi" in out
    assert "[Stay and chat → /stay_and_chat]  [Talk to a person → /request_human]" in out
    assert "agent  Dana (Lumen Home): I'm on it" in out


async def test_a_tapped_whatsapp_button_reaches_the_bot_as_its_payload(product: Product) -> None:
    assert await product.cli("whatsapp", "Stay and chat", "--button", "/stay_and_chat") == 0
    [message] = product.received
    assert message.text == "/stay_and_chat"
    assert message.metadata["reply"]["title"] == "Stay and chat"


async def test_a_messenger_quick_reply_gets_the_replies_printed(
    product: Product, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("messenger", "Stay", "--quick-reply", "/stay_and_chat", "--psid", "123456")
    assert await product.cli(*argv) == 0
    [message] = product.received
    assert (message.sender_id, message.text) == ("123456", "/stay_and_chat")
    out = capsys.readouterr().out
    assert "bot    🤖 You said /stay_and_chat" in out
    assert "[Stay and chat → /stay_and_chat]" in out
    assert "agent  Dana (Lumen Home): I'm on it" in out
    assert "typing" not in out


async def test_only_the_replies_to_this_customer_are_printed(
    product: Product, capsys: pytest.CaptureFixture[str]
) -> None:
    await product.cli("whatsapp", "first", "--from", "447700900001")
    capsys.readouterr()
    await product.cli("whatsapp", "second", "--from", "447700900002")
    out = capsys.readouterr().out
    assert "You said second" in out
    assert "You said first" not in out


@pytest.mark.parametrize("channel", ["whatsapp", "messenger"])
async def test_a_wrong_app_secret_is_refused_and_nothing_reaches_the_bot(
    product: Product, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**ENV, cli.APP_SECRET_ENV[channel]: "not-the-secret"}
    assert await product.cli(channel, "hi", env=env) == 1
    assert f"/webhooks/{channel}/webhook -> 403" in capsys.readouterr().out
    assert product.received == []


async def test_a_missing_secret_is_named(
    product: Product, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await product.cli("messenger", "hi", env={}) == 2
    assert "MESSENGER_APP_SECRET is not set" in capsys.readouterr().err
    assert product.received == []


async def test_secrets_missing_from_the_environment_come_from_the_secrets_file(
    product: Product, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(f"WHATSAPP_APP_SECRET={ENV['WHATSAPP_APP_SECRET']}\n")
    assert await product.cli("whatsapp", "hi", env={}, secrets_file=str(secrets_file)) == 0
    assert [m.text for m in product.received] == ["hi"]


@pytest.mark.parametrize("channel", ["whatsapp", "messenger"])
async def test_verify_runs_metas_handshake(
    product: Product, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--secrets-file", "/nonexistent", "verify", channel, "--rasa", product.url]
    assert await cli.run(argv, ENV) == 0
    assert "verified" in capsys.readouterr().out
    wrong = {**ENV, cli.VERIFY_TOKEN_ENV[channel]: "guess"}
    assert await cli.run(argv, wrong) == 1
    assert "verification failed" in capsys.readouterr().out
