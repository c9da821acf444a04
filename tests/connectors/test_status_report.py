"""Delivery statuses reach the handoff service: real signed webhooks into the WhatsApp and
Messenger channels, a local aiohttp server speaking `POST /api/v1/deliveries`."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain

from connectors.common.status_report import (
    HandoffEndpoint,
    ReportingStatusSink,
    StatusReportConfigError,
)
from connectors.messenger import MessengerInput
from connectors.webchat import WebChatInput
from connectors.whatsapp import WhatsAppInput
from harness.web import serving_app
from tests.connectors import sanic_app, serving
from tests.connectors.test_messenger_channel import PSID, Harness
from tests.connectors.test_messenger_channel import credentials as messenger_credentials
from tests.connectors.test_messenger_channel import fixture as messenger_fixture
from tests.connectors.test_messenger_client import messenger_graph
from tests.connectors.test_whatsapp_channel import WA_ID, Bench, fixture_bytes, mount, settings
from tools.simulator.graph_api import GraphApiStandIn

HANDOFF_TOKEN = "handoff-service-token"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBQkNERUYxMjM0NTY3ODkwAA=="
REPORTER_LOGGER = "connectors.common.status_report"
AT = "2025-06-08T20:59:50.000Z"  # the fixtures' "timestamp": "1749416390"


@dataclass
class HandoffStandIn:
    """The handoff service's deliveries endpoint: checks the bearer, records each body and
    answers with the next scripted HTTP status (the last one repeats)."""

    statuses: list[int]
    bodies: list[Any] = field(default_factory=list)
    url: str = ""

    async def deliveries(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {HANDOFF_TOKEN}":
            return web.json_response({"error": "unauthorized", "message": "no"}, status=401)
        body = await request.json()
        self.bodies.append(body)
        status = self.statuses[min(len(self.bodies), len(self.statuses)) - 1]
        if status >= 300:
            return web.json_response({"error": "trouble", "message": "try later"}, status=status)
        return web.json_response({"updated": len(body)}, status=status)


@asynccontextmanager
async def handoff_service(*statuses: int) -> AsyncIterator[HandoffStandIn]:
    stand_in = HandoffStandIn(list(statuses) or [200])
    app = web.Application()
    app.router.add_post("/api/v1/deliveries", stand_in.deliveries)
    async with serving_app(app) as stand_in.url:
        yield stand_in


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def whatsapp(tmp_path: Path, handoff_url: str, token: str = HANDOFF_TOKEN):
    """The WhatsApp channel served on loopback, reporting to `handoff_url` (fast retries)."""
    async with GraphApiStandIn() as graph:
        endpoint = HandoffEndpoint(handoff_url, token, backoff_seconds=0.01)
        channel = WhatsAppInput(settings(graph, tmp_path / "state.sqlite3"), handoff=endpoint)
        received: list[UserMessage] = []
        async with serving(mount(channel, received)) as url:
            yield Bench(url, channel, graph, received)


def report(status: str, error: str | None = None) -> dict[str, Any]:
    return {
        "channel": "whatsapp",
        "conversation_id": WA_ID,
        "channel_message_id": WAMID,
        "status": status,
        "at": AT,
        "error": error,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status_delivered", report("delivered")),
        ("status_read", report("read")),
        ("status_failed", report("failed", "Re-engagement message (WhatsApp error 131047)")),
    ],
)
async def test_a_whatsapp_status_is_recorded_and_reported(
    tmp_path: Path, name: str, expected: dict[str, Any]
) -> None:
    async with handoff_service() as handoff, whatsapp(tmp_path, handoff.url) as bench:
        status, _ = await bench.deliver(fixture_bytes(name))
    assert status == 200
    assert handoff.bodies == [[expected]]
    [recorded] = await bench.channel.state.statuses_for(WAMID)
    assert recorded.status == expected["status"]


async def test_server_trouble_is_retried(tmp_path: Path) -> None:
    async with handoff_service(503, 502, 202) as handoff, whatsapp(tmp_path, handoff.url) as bench:
        await bench.deliver(fixture_bytes("status_read"))
    assert handoff.bodies == [[report("read")]] * 3


async def test_an_unreachable_handoff_service_is_logged_and_the_webhook_still_answers_200(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with whatsapp(tmp_path, closed_port_url()) as bench:
        with caplog.at_level(logging.ERROR, logger=REPORTER_LOGGER):
            status, body = await bench.deliver(fixture_bytes("status_failed"))
    assert (status, body) == (200, {"status": "received"})
    [error] = [r for r in caplog.records if r.name == REPORTER_LOGGER]
    assert WAMID in error.getMessage() and "after 3 attempts" in error.getMessage()
    [recorded] = await bench.channel.state.statuses_for(WAMID)  # still kept locally
    assert recorded.status == "failed"


async def test_a_refused_report_is_logged_and_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        handoff_service() as handoff,
        whatsapp(tmp_path, handoff.url, token="wrong") as bench,
    ):
        with caplog.at_level(logging.ERROR, logger=REPORTER_LOGGER):
            await bench.deliver(fixture_bytes("status_sent"))
    assert handoff.bodies == []
    [error] = [r for r in caplog.records if r.name == REPORTER_LOGGER]
    assert "refused" in error.getMessage() and "HTTP 401" in error.getMessage()


def whatsapp_credentials(**extra: str) -> dict[str, Any]:
    return {
        "verify_token": "v",
        "app_secret": "s",
        "access_token": "a",
        "phone_number_id": "1",
        "deliver_token": "d",
        **extra,
    }


def test_reporting_is_on_only_with_handoff_credentials() -> None:
    local = WhatsAppInput.from_credentials(whatsapp_credentials())
    assert local.status_sink is local.state
    blank = WhatsAppInput.from_credentials(whatsapp_credentials(handoff_url=""))
    assert blank.status_sink is blank.state
    reporting = WhatsAppInput.from_credentials(
        whatsapp_credentials(handoff_url="http://handoff:8000/", handoff_token="t")
    )
    assert isinstance(reporting.status_sink, ReportingStatusSink)
    assert reporting.status_sink.reporter.endpoint.deliveries_url == (
        "http://handoff:8000/api/v1/deliveries"
    )


def test_a_handoff_url_without_a_token_is_a_clear_error() -> None:
    with pytest.raises(StatusReportConfigError, match="handoff_token"):
        WhatsAppInput.from_credentials(whatsapp_credentials(handoff_url="http://handoff"))


@asynccontextmanager
async def messenger(tmp_path: Path, handoff_url: str) -> AsyncIterator[Harness]:
    async with messenger_graph() as graph:
        channel = MessengerInput.from_credentials(
            {
                **messenger_credentials(graph.url + "/v21.0", tmp_path / "state.db"),
                "handoff_url": handoff_url,
                "handoff_token": HANDOFF_TOKEN,
            }
        )

        async def on_new_message(message: UserMessage) -> None:
            raise AssertionError("receipts are not customer messages")

        app = sanic_app("messenger")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/messenger")
        async with serving(app) as base:
            yield Harness(
                base + "/webhooks/messenger", channel, graph, Agent(domain=Domain.empty())
            )


async def test_a_messenger_delivery_receipt_reports_the_messages_it_lists(tmp_path: Path) -> None:
    async with handoff_service() as handoff, messenger(tmp_path, handoff.url) as harness:
        assert (await harness.post(messenger_fixture("delivery")))[0] == 200
    assert handoff.bodies == [
        [
            {
                "channel": "messenger",
                "conversation_id": PSID,
                "channel_message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_delivered",
                "status": "delivered",
                "at": "2024-11-23T09:06:00.253Z",
                "error": None,
            }
        ]
    ]


async def test_a_messenger_read_watermark_alone_is_kept_locally_not_reported(
    tmp_path: Path,
) -> None:
    async with handoff_service() as handoff, messenger(tmp_path, handoff.url) as harness:
        assert (await harness.post(messenger_fixture("read")))[0] == 200
        status = await harness.channel.state.delivery_status(PSID)
    assert handoff.bodies == []
    assert status.read_until_ms == 1732352761253


def test_the_shipped_credentials_report_statuses_to_the_handoff_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under `make run` (scripts/run.sh exports HANDOFF_URL and HANDOFF_API_TOKEN) statuses and
    read receipts of both Meta channels reach the agent, and so does the web chat customer's
    presence."""
    from rasa.core.run import create_http_input_channels

    from harness.stack import CHANNEL_SECRETS, ROOT

    for name, value in CHANNEL_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRAPH_API_URL", "http://127.0.0.1:9/v21.0")
    monkeypatch.setenv("CONNECTORS_STATE_DB", str(tmp_path / "connectors.sqlite3"))
    monkeypatch.setenv("HANDOFF_OUTBOX_PATH", str(tmp_path / "outbox.sqlite3"))
    monkeypatch.setenv("HANDOFF_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("HANDOFF_API_TOKEN", HANDOFF_TOKEN)
    channels = create_http_input_channels(None, str(ROOT / "bot/credentials.yml"))
    [whatsapp] = [c for c in channels if isinstance(c, WhatsAppInput)]
    [messenger] = [c for c in channels if isinstance(c, MessengerInput)]
    [webchat] = [c for c in channels if isinstance(c, WebChatInput)]
    assert isinstance(whatsapp.status_sink, ReportingStatusSink)
    assert webchat.hub.activity is not None
    endpoints = (
        whatsapp.status_sink.reporter.endpoint,
        messenger.settings.handoff,
        webchat.hub.activity.endpoint,
    )
    for endpoint in endpoints:
        assert endpoint is not None
        assert endpoint.url == "http://127.0.0.1:8000"
        assert endpoint.token == HANDOFF_TOKEN
