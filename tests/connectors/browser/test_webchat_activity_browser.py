"""The widget in headless Chromium says when the customer types and when they stopped, and the
channel passes it on with their coming and going to a stand-in of the handoff service."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.browser.server import ChatServer
from tests.connectors.browser.widget_page import WAIT_SECONDS

pytestmark = pytest.mark.slow

TOKEN = "widget-test-handoff-token"


class ActivityReceiver:
    """`POST /api/v1/customer-activity` on a free loopback port: records the bodies it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                authorised = self.headers["Authorization"] == f"Bearer {TOKEN}"
                if authorised and self.path == "/api/v1/customer-activity":
                    with receiver.changed:
                        receiver.bodies.append(body)
                        receiver.changed.notify_all()
                self.send_response(200 if authorised else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def wait_for(self, *states: str) -> None:
        """Until the states reported, repeats in a row counted once, are `states`."""

        def seen() -> list[str]:
            return [state for state, _ in groupby(body["state"] for body in self.bodies)]

        with self.changed:
            if not self.changed.wait_for(lambda: seen() == list(states), WAIT_SECONDS):
                pytest.fail(f"reported {seen()}, not {list(states)}")


@pytest.fixture
def receiver() -> Iterator[ActivityReceiver]:
    stand_in = ActivityReceiver()
    yield stand_in
    stand_in.http.shutdown()


@pytest.fixture
def server(tmp_path: Path, receiver: ActivityReceiver) -> Iterator[ChatServer]:
    chat = ChatServer(tmp_path, receiver.url, TOKEN)
    chat.start()
    yield chat
    chat.stop()


def test_typing_and_leaving_the_page_reach_the_handoff_service(browser, receiver):
    page = browser()
    page.open_chat()  # the panel connects
    receiver.wait_for("online")

    page.say("Where is my order?")  # typed, then sent: typing, then stopped
    page.wait_for_line("bot", "You said: Where is my order?")
    receiver.wait_for("online", "typing", "online")

    page.type("And my")  # and a pause: the widget says the customer stopped typing
    receiver.wait_for("online", "typing", "online", "typing", "online")

    session = page.session()
    browser.close(page)
    receiver.wait_for("online", "typing", "online", "typing", "online", "left")
    assert {body["conversation_id"] for body in receiver.bodies} == {session}
    assert {body["channel"] for body in receiver.bodies} == {"webchat"}
