"""Agents open a customer's photo through the service, which fetches it from the connector
that holds the channel's credentials (`GET /webhooks/<channel>/media/<id>`, delivery token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from contracts.values import format_time
from handoff.app import create_app
from harness.handoff_data import make_agent, make_conversation
from harness.service import serving
from harness.web import serving_app
from tests.handoff.conftest import DELIVERY_TOKEN

pytestmark = pytest.mark.one_store  # media links and their checks: not the database

PHOTO = b"\xff\xd8\xff\xe0 a small jpeg"


@dataclass
class Connector:
    """The connector's media endpoint: the files it has, and who asked for what."""

    files: dict[str, bytes]
    asked: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.asked.append((request.path, request.headers.get("Authorization", "")))
        if request.headers.get("Authorization") != f"Bearer {DELIVERY_TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = self.files.get(request.match_info["media_id"])
        if body is None:
            return web.json_response({"error": "media_not_found"}, status=404)
        return web.Response(body=body, content_type="image/jpeg")


@asynccontextmanager
async def connector(files: dict[str, bytes]) -> AsyncIterator[Connector]:
    stand_in = Connector(files)
    app = web.Application()
    app.router.add_get("/webhooks/{channel}/media/{media_id}", stand_in.handle)
    async with serving_app(app) as stand_in.url:
        yield stand_in


def photo_line(media_id: str) -> dict[str, object]:
    return {
        "author_type": "customer",
        "text": "",
        "timestamp": format_time(datetime.now(timezone.utc)),
        "message_id": f"wamid.{media_id}",
        "attachments": [{"kind": "image", "media_id": media_id, "mime_type": "image/jpeg"}],
    }


@pytest.fixture
async def opened(sessions, settings):
    """(GET a conversation's media path -> (status, body, content type), connector)."""
    async with AsyncExitStack() as stack:
        stand_in = await stack.enter_async_context(connector({"media-1": PHOTO}))
        app = create_app(replace(settings, delivery_url=stand_in.url))
        base = await stack.enter_async_context(serving(app))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        agent = await make_agent(sessions)
        lines = [photo_line("media-1"), photo_line("media-gone")]  # the channel dropped the 2nd
        conversation = await make_conversation(sessions, channel="whatsapp", transcript=lines)

        async def get(media_id: str, token: str | None = agent.token, pk: str | None = None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            url = f"{base}/api/v1/conversations/{pk or conversation['id']}/media/{media_id}"
            async with http.get(url, headers=headers) as answer:
                return answer.status, await answer.read(), answer.headers

        yield get, stand_in


async def test_an_agent_opens_a_photo_of_the_conversation(opened) -> None:
    get, stand_in = opened
    status, body, headers = await get("media-1")

    assert (status, body) == (200, PHOTO)
    assert headers["Content-Type"].startswith("image/jpeg")
    assert headers["Content-Disposition"] == "attachment"
    assert stand_in.asked == [("/webhooks/whatsapp/media/media-1", f"Bearer {DELIVERY_TOKEN}")]


async def test_only_media_the_conversation_carries_and_only_for_agents(opened) -> None:
    get, stand_in = opened

    assert (await get("media-1", token=None))[0] == 401
    assert (await get("media-1", token="bogus"))[0] == 401
    assert (await get("someone-elses-file"))[0] == 404
    assert (await get("media-1", pk="no-such-conversation"))[0] == 404
    assert stand_in.asked == []


async def test_a_file_the_channel_no_longer_has_is_404(opened) -> None:
    get, _ = opened
    status, body, _ = await get("media-gone")
    assert status == 404 and b"media_not_found" in body


async def test_a_connector_that_cannot_be_reached_is_502(sessions, settings) -> None:
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens
    app = create_app(replace(settings, delivery_url=unreachable))
    agent = await make_agent(sessions)
    conversation = await make_conversation(
        sessions, channel="whatsapp", transcript=[photo_line("media-1")]
    )
    async with serving(app) as base, aiohttp.ClientSession() as http:
        url = f"{base}/api/v1/conversations/{conversation['id']}/media/media-1"
        headers = {"Authorization": f"Bearer {agent.token}"}
        async with http.get(url, headers=headers) as answer:
            assert answer.status == 502
            assert (await answer.json())["error"] == "media_unavailable"
