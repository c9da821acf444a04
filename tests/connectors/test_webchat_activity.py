"""The web chat tells the handoff service whether the customer is there: real tabs over a real
websocket into the channel, a local aiohttp server speaking `POST /api/v1/customer-activity`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.common.status_report import StatusReportConfigError
from connectors.webchat import WebChatInput, hub
from contracts.values import parse_time
from harness.web import serving_app
from tests.connectors import serving
from tests.connectors.browser.webchat_bench import PREFIX, webchat_app
from tests.connectors.test_status_report import HANDOFF_TOKEN, closed_port_url
from tests.connectors.test_webchat_channel import Tab, _TabContext, new_session

REPORTS_SECONDS = 10.0  # upper bound for a report to arrive; it normally takes ms


@dataclass
class ActivityReceiver:
    """The handoff service's customer-activity endpoint: checks the bearer, records each body."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def receive(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {HANDOFF_TOKEN}":
            return web.json_response({"error": "unauthorized", "message": "no"}, status=401)
        async with self.arrived:
            self.bodies.append(await request.json())
            self.arrived.notify_all()
        return web.json_response({"applied": True})

    async def states(self, count: int) -> list[str]:
        """The states reported, once there are `count` of them."""
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.bodies) >= count), REPORTS_SECONDS
            )
        return [body["state"] for body in self.bodies]


@asynccontextmanager
async def handoff_service() -> AsyncIterator[ActivityReceiver]:
    receiver = ActivityReceiver()
    app = web.Application()
    app.router.add_post("/api/v1/customer-activity", receiver.receive)
    async with serving_app(app) as receiver.url:
        yield receiver


@dataclass(frozen=True)
class Chat:
    url: str
    channel: WebChatInput
    http: aiohttp.ClientSession

    def tab(self, session: str) -> _TabContext:
        return _TabContext(self.http, f"{self.url}{PREFIX}/ws", {"session": session})


@asynccontextmanager
async def chat(tmp_path: Path, handoff_url: str, **credentials: Any) -> AsyncIterator[Chat]:
    app, channel, _ = webchat_app(
        tmp_path, handoff_url=handoff_url, handoff_token=HANDOFF_TOKEN, **credentials
    )
    async with serving(app) as base, aiohttp.ClientSession() as http:
        yield Chat(base, channel, http)
        await channel.tasks.wait_idle()


async def typing(tab: Tab, on: bool) -> None:
    await tab.ws.send_json({"type": "typing", "on": on})


async def test_connect_typing_and_leaving_are_reported(tmp_path: Path) -> None:
    session = new_session()
    async with handoff_service() as handoff, chat(tmp_path, handoff.url) as web_chat:
        async with web_chat.tab(session) as tab:
            await tab.next("history")
            assert await handoff.states(1) == ["online"]
            await typing(tab, True)
            assert await handoff.states(2) == ["online", "typing"]
            await typing(tab, False)
            assert await handoff.states(3) == ["online", "typing", "online"]
        assert await handoff.states(4) == ["online", "typing", "online", "left"]

    assert {(body["channel"], body["conversation_id"]) for body in handoff.bodies} == {
        ("webchat", session)
    }
    times = [parse_time(body["at"]) for body in handoff.bodies]
    assert times == sorted(times)


async def test_the_customer_leaves_when_their_last_tab_closes(tmp_path: Path) -> None:
    session = new_session()
    async with handoff_service() as handoff, chat(tmp_path, handoff.url) as web_chat:
        async with web_chat.tab(session) as first:
            await first.next("history")
            async with web_chat.tab(session) as second:
                await second.next("history")
                await second.say("Two tabs open")
                await second.bot_reply()
            assert await handoff.states(1) == ["online"]
        assert await handoff.states(2) == ["online", "left"]
    assert len(handoff.bodies) == 2  # neither the second tab's opening nor its closing


async def test_typing_frames_in_a_burst_are_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "TYPING_REPEAT_SECONDS", 3600.0)  # every frame of the test is "soon"
    async with handoff_service() as handoff, chat(tmp_path, handoff.url) as web_chat:
        async with web_chat.tab(new_session()) as tab:
            await tab.next("history")
            for _ in range(20):
                await typing(tab, True)
            await typing(tab, False)
            await typing(tab, False)  # a stop with nothing typed since is not news either
            await tab.say("Done typing")
            await tab.bot_reply()
        assert await handoff.states(4) == ["online", "typing", "online", "left"]
    assert len(handoff.bodies) == 4


async def test_the_chat_goes_on_when_the_handoff_service_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="connectors.common.activity_report"):
        async with (
            chat(tmp_path, closed_port_url()) as web_chat,  # waits for the reports at the end
            web_chat.tab(new_session()) as tab,
        ):
            await tab.next("history")
            await typing(tab, True)
            await tab.say("Anyone there?")
            assert (await tab.bot_reply())["text"] == "You said: Anyone there?"
    failures = [r for r in caplog.records if r.name == "connectors.common.activity_report"]
    assert failures and all("not reported" in r.getMessage() for r in failures)
    assert failures[0].levelno == logging.WARNING  # the first of a streak; then quieter


def test_reporting_is_on_only_with_handoff_credentials(tmp_path: Path) -> None:
    _, local, _ = webchat_app(tmp_path)
    assert local.hub.activity is None
    _, blank, _ = webchat_app(tmp_path, handoff_url="")
    assert blank.hub.activity is None
    _, reporting, _ = webchat_app(tmp_path, handoff_url="http://handoff:8000/", handoff_token="t")
    assert reporting.hub.activity is not None
    assert reporting.hub.activity.endpoint.activity_url == (
        "http://handoff:8000/api/v1/customer-activity"
    )
    with pytest.raises(StatusReportConfigError, match="handoff_token"):
        webchat_app(tmp_path, handoff_url="http://handoff:8000")
