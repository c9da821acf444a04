"""Once a channel's server has started, what the process loaded is left out of garbage
collection: the long full collections of a process holding Rasa's model stop stalling turns."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.channels.channel import InputChannel

from connectors.webchat import WebChatInput
from connectors.whatsapp import WhatsAppInput
from tests.connectors import sanic_app, serving
from tests.connectors.test_pii_masking import agent_with_broker
from tests.connectors.test_whatsapp_channel import settings
from tools.simulator.graph_api import GraphApiStandIn


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test process collects as usual


async def started_freezes(channel: InputChannel, tmp_path: Path) -> None:
    bot = agent_with_broker(tmp_path)[0]
    app = sanic_app("startup")
    app.ctx.agent = bot.agent
    app.blueprint(channel.blueprint(bot))
    loaded_before_start = len(gc.get_objects())
    assert gc.get_freeze_count() == 0

    async with serving(app):
        assert gc.get_freeze_count() > loaded_before_start / 2
        assert len(gc.get_objects()) < loaded_before_start / 10  # what collections still walk


async def test_a_started_web_chat_server_freezes_what_it_loaded(tmp_path: Path) -> None:
    channel = WebChatInput.from_credentials(
        {"deliver_token": "deliver-secret", "state_path": str(tmp_path / "webchat.sqlite")}
    )
    await started_freezes(channel, tmp_path)


async def test_a_started_whatsapp_server_freezes_what_it_loaded(tmp_path: Path) -> None:
    async with GraphApiStandIn() as graph:
        await started_freezes(WhatsAppInput(settings(graph, tmp_path / "state.sqlite3")), tmp_path)
