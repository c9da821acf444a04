"""The web chat channel end to end over a real websocket: widget frames in, Rasa messages out."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.shared.core.events import UserUttered
from rasa.shared.exceptions import RasaException

from connectors.common.inbox import Inbox
from connectors.webchat import WebChatInput
from tests.connectors import serving
from tests.connectors.browser.webchat_bench import DELIVER_TOKEN, PREFIX, ScriptedBot, webchat_app

Frame = dict[str, Any]


class Tab:
    """One browser tab of the widget: a websocket speaking the widget's frames."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def next(self, kind: str | None = None) -> Frame:
        """The next frame (of type `kind`, skipping others such as typing)."""
        while True:
            frame = json.loads(await self.ws.receive_str(timeout=10))
            if kind is None or frame["type"] == kind:
                return frame

    async def say(self, text: str, client_id: str | None = None) -> str:
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "text": text, "client_id": client_id})
        return client_id

    async def bot_reply(self) -> Frame:
        while (frame := await self.next("message"))["author_type"] == "customer":
            pass
        return frame


@dataclass(frozen=True)
class Bench:
    url: str
    channel: WebChatInput
    bot: ScriptedBot


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    app, channel, bot = webchat_app(tmp_path)
    async with serving(app) as base:
        yield Bench(base, channel, bot)
        await channel.tasks.wait_idle()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def open_tab(
    bench: Bench, http: aiohttp.ClientSession
) -> Callable[..., AbstractAsyncContextManager[Tab]]:
    base = bench.url

    def open_tab(session: str, **params: str) -> AbstractAsyncContextManager[Tab]:
        return _TabContext(http, f"{base}{PREFIX}/ws", {"session": session, **params})

    return open_tab


class _TabContext:
    def __init__(self, http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> None:
        self.connect = http.ws_connect(url, params=params)

    async def __aenter__(self) -> Tab:
        return Tab(await self.connect.__aenter__())

    async def __aexit__(self, *exc: object) -> None:
        await self.connect.__aexit__(*exc)


async def deliver(http: aiohttp.ClientSession, base: str, **fields: Any) -> tuple[int, Frame]:
    body = {
        "channel": "webchat",
        "message_id": uuid.uuid4().hex,
        "author_type": "agent",
        "author_name": "Dana",
        "text": "Hi, Dana here. I can see your order.",
        **fields,
    }
    token = body.pop("token", DELIVER_TOKEN)
    async with http.post(
        f"{base}{PREFIX}/deliver", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as answer:
        return answer.status, await answer.json()


def new_session() -> str:
    return str(uuid.uuid4())


async def test_a_message_reaches_rasa_with_its_metadata_and_the_bot_answers(open_tab, bench):
    bot = bench.bot
    session = new_session()
    async with open_tab(session, lang="de-CH") as tab:
        assert await tab.next() == {"type": "history", "messages": []}
        client_id = await tab.say("Where is my order?")

        echo = await tab.next("message")
        assert (echo["author_type"], echo["id"], echo["text"]) == (
            "customer",
            client_id,
            "Where is my order?",
        )
        assert await tab.next("typing") == {"type": "typing", "on": True}
        reply = await tab.next("message")
        assert await tab.next("typing") == {"type": "typing", "on": False}

    assert reply["author_type"] == "bot"
    assert reply["author_name"] == "Lumen assistant"
    assert reply["text"] == "You said: Where is my order?"
    assert [button["title"] for button in reply["buttons"]] == ["Track my order", "Device offline"]
    [message] = bot.received
    assert (message.sender_id, message.message_id, message.input_channel) == (
        session,
        client_id,
        "webchat",
    )
    assert message.metadata == {"channel": "webchat", "message_id": client_id, "language": "de"}


async def test_a_message_sent_again_after_a_reconnect_is_processed_once(open_tab, bench):
    channel, bot = bench.channel, bench.bot
    session = new_session()
    async with open_tab(session) as tab:
        await tab.next("history")
        client_id = await tab.say("My lamp is offline")
        await tab.bot_reply()
    async with open_tab(session) as tab:
        await tab.next("history")
        await tab.say("My lamp is offline", client_id)
        acknowledgement = await tab.next("message")
    await channel.tasks.wait_idle()

    assert (acknowledgement["id"], acknowledgement["author_type"]) == (client_id, "customer")
    assert [message.text for message in bot.received] == ["My lamp is offline"]


async def test_every_tab_of_the_customer_sees_the_conversation(open_tab):
    session = new_session()
    async with open_tab(session) as first, open_tab(session) as second:
        await first.next("history")
        await second.next("history")
        await first.say("Hello from the first tab")

        assert (await second.next("message"))["text"] == "Hello from the first tab"
        assert (await second.next("message"))["text"] == "You said: Hello from the first tab"
        assert (await first.bot_reply())["text"] == "You said: Hello from the first tab"


async def test_a_button_sends_its_payload_and_shows_its_title(open_tab, bench):
    bot = bench.bot
    session = new_session()
    async with open_tab(session) as tab:
        await tab.next("history")
        await tab.ws.send_json(
            {
                "type": "payload",
                "payload": "/request_human",
                "title": "Talk to a person",
                "client_id": uuid.uuid4().hex,
            }
        )
        assert (await tab.next("message"))["text"] == "Talk to a person"
        await tab.bot_reply()
    async with open_tab(session) as tab:
        history = await tab.next("history")

    assert bot.received[0].text == "/request_human"
    assert bot.received[0].metadata["display_text"] == "Talk to a person"
    assert history["messages"][0]["text"] == "Talk to a person"


async def test_coming_back_shows_the_history_with_every_author(open_tab, bench, http):
    base, channel = bench.url, bench.channel
    session = new_session()
    async with open_tab(session) as tab:
        await tab.next("history")
        client_id = await tab.say("Where is my order?")
        live_reply = await tab.bot_reply()
    await channel.tasks.wait_idle()
    status, _ = await deliver(http, base, conversation_id=session, message_id="handoff-1")
    assert status == 200

    async with open_tab(session) as tab:
        history = (await tab.next("history"))["messages"]

    assert [(line["author_type"], line["author_name"], line["text"]) for line in history] == [
        ("customer", None, "Where is my order?"),
        ("bot", "Lumen assistant", "You said: Where is my order?"),
        ("agent", "Dana", "Hi, Dana here. I can see your order."),
    ]
    assert [line["id"] for line in history] == [client_id, live_reply["id"], "handoff-1"]
    assert history[1]["buttons"] == live_reply["buttons"]


async def test_a_tab_opened_during_a_turn_shows_the_bot_typing(open_tab, bench):
    bot = bench.bot
    bot.release = asyncio.Event()
    session = new_session()
    async with open_tab(session) as first:
        await first.next("history")
        await first.say("Hello")
        assert await first.next("typing") == {"type": "typing", "on": True}
        async with open_tab(session) as second:
            await second.next("history")
            assert await second.next() == {"type": "typing", "on": True}
            bot.release.set()
            assert (await second.bot_reply())["author_type"] == "bot"
            assert await second.next("typing") == {"type": "typing", "on": False}


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "malformed_json"),
        pytest.param("[" * 20_000 + "]" * 20_000, "too_deep", id="nested-20000"),
        pytest.param(" " * 70_000 + "{}", "too_large", id="70-kB"),
        ({"type": "message", "text": "", "client_id": "abcdefgh1"}, "missing_field"),
        ({"type": "message", "text": "hi", "client_id": "no"}, "invalid_field"),
        ({"type": "message", "text": "x" * 4001, "client_id": "abcdefgh1"}, "too_long"),
        ({"type": "file"}, "unknown_type"),
        ({"type": "typing", "on": "yes"}, "invalid_field"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_chat_goes_on(open_tab, frame, error):
    async with open_tab(new_session()) as tab:
        await tab.next("history")
        if isinstance(frame, str):
            await tab.ws.send_str(frame)
        else:
            await tab.ws.send_json(frame)
        assert (await tab.next("error"))["error"] == error
        await tab.say("still here")
        assert (await tab.bot_reply())["text"] == "You said: still here"


async def test_a_session_that_is_not_a_uuid_is_refused(open_tab):
    async with open_tab("15551234567") as tab:  # e.g. a WhatsApp conversation id
        message = await tab.ws.receive(timeout=10)
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 4400)


async def test_an_origin_outside_allowed_origins_is_refused(tmp_path, http):
    app, _, _ = webchat_app(tmp_path, allowed_origins="https://lumenhome.example")
    async with serving(app) as base:
        url, params = f"{base}{PREFIX}/ws", {"session": new_session()}
        async with http.ws_connect(url, params=params, origin="https://evil.example") as ws:
            refused = await ws.receive(timeout=10)
        async with http.ws_connect(url, params=params, origin="https://lumenhome.example") as ws:
            accepted = json.loads(await ws.receive_str(timeout=10))
    assert (refused.type, refused.data) == (aiohttp.WSMsgType.CLOSE, 4403)
    assert accepted["type"] == "history"


async def test_an_agent_line_reaches_the_open_tabs_and_the_tracker(open_tab, bench, http):
    base, channel = bench.url, bench.channel
    session = new_session()
    async with open_tab(session) as tab:
        await tab.next("history")
        await tab.say("I want a person")
        await tab.bot_reply()
        await channel.tasks.wait_idle()
        status, answer = await deliver(
            http, base, conversation_id=session, message_id="handoff-7", author_name="Dana"
        )
        line = await tab.next("message")
        status_system, _ = await deliver(
            http,
            base,
            conversation_id=session,
            author_type="system",
            author_name=None,
            text="Dana from support joined",
        )
        notice = await tab.next("message")

    assert (status, answer) == (200, {"status": "sent", "channel_message_id": "handoff-7"})
    assert (line["author_type"], line["author_name"], line["id"]) == ("agent", "Dana", "handoff-7")
    assert status_system == 200
    assert (notice["author_type"], notice["text"]) == ("system", "Dana from support joined")
    tracker = await bench.bot.agent.tracker_store.retrieve(session)
    agent_event = next(e for e in tracker.events if e.metadata.get("handoff_message_id"))
    assert agent_event.metadata["author_type"] == "agent"


async def test_an_agent_line_for_a_closed_chat_is_queued_in_the_history(open_tab, bench, http):
    base, channel = bench.url, bench.channel
    session = new_session()
    async with open_tab(session) as tab:
        await tab.next("history")
        await tab.say("Call me back later")
        await tab.bot_reply()
    await channel.tasks.wait_idle()

    status, answer = await deliver(http, base, conversation_id=session, message_id="handoff-9")
    again, _ = await deliver(http, base, conversation_id=session, message_id="handoff-9")
    async with open_tab(session) as tab:
        history = (await tab.next("history"))["messages"]

    assert status == again == 200
    assert answer["status"] == "sent"
    assert answer["note"].startswith("queued")
    assert [line["id"] for line in history].count("handoff-9") == 1
    assert history[-1]["author_name"] == "Dana"


async def test_concurrent_retries_of_one_line_show_it_once(open_tab, bench, http, monkeypatch):
    session = new_session()
    store = bench.bot.agent.tracker_store
    save_tracker = store.save

    async def slow_save(tracker: Any) -> None:  # a busy tracker database
        await asyncio.sleep(0.3)
        await save_tracker(tracker)

    async with open_tab(session) as tab:
        await tab.next("history")
        await tab.say("Is anyone there?")
        await tab.bot_reply()
        await bench.channel.tasks.wait_idle()
        monkeypatch.setattr(store, "save", slow_save)
        answers = await asyncio.gather(
            *(deliver(http, bench.url, conversation_id=session, message_id="hm-7") for _ in "abc")
        )
        await tab.say("thanks")  # the frames before this one's echo are all there is
        frames = []
        while (frame := await tab.next("message"))["text"] != "thanks":
            frames.append(frame)
    monkeypatch.undo()
    async with open_tab(session) as tab:
        history = (await tab.next("history"))["messages"]

    assert [status for status, _ in answers] == [200, 200, 200]
    assert [frame["id"] for frame in frames] == ["hm-7"]
    assert [line["id"] for line in history].count("hm-7") == 1


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"token": "wrong"}, 401, "unauthorized"),
        ({"text": ""}, 400, "missing_field"),
        ({"author_type": "bot"}, 400, "invalid_field"),
        ({"channel": "whatsapp"}, 422, "wrong_channel"),
        ({"conversation_id": "7d8c2f36-0b5e-4a59-9d36-2f0f4f8d3a11"}, 404, "unknown_conversation"),
    ],
)
async def test_a_bad_delivery_is_refused_and_changes_nothing(bench, http, fields, status, error):
    base, bot = bench.url, bench.bot
    answer_status, answer = await deliver(
        http, base, **{"conversation_id": new_session(), **fields}
    )
    assert (answer_status, answer["error"]) == (status, error)
    assert answer["message"]
    assert await bot.agent.tracker_store.keys() == []


async def test_the_demo_page_and_the_widget_files_are_served(bench, http):
    base = bench.url
    for path, kind, needle in [
        ("/", "text/html", 'src="/webhooks/webchat/widget.js"'),
        ("/widget.js", "text/javascript", "reconnect"),
        ("/widget.css", "text/css", ".lumen-chat"),
    ]:
        async with http.get(f"{base}{PREFIX}{path}") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith(kind)
            assert needle in await answer.text()


def test_credentials_without_a_deliver_token_name_the_missing_key():
    with pytest.raises(RasaException, match="deliver_token"):
        WebChatInput.from_credentials({"state_path": "var/x.sqlite"})


def test_credentials_read_origins_and_the_bot_marker():
    channel = WebChatInput.from_credentials(
        {
            "deliver_token": "t",
            "allowed_origins": "https://a.example, https://b.example/",
            "bot_marker": "🤖 ",
        }
    )
    assert channel.allowed_origins == {"https://a.example", "https://b.example"}
    assert channel.output.bot_marker == "🤖 "
    assert WebChatInput.from_credentials({"deliver_token": "t"}).output.bot_marker is None


async def test_a_message_sent_just_before_the_tab_closes_still_reaches_the_bot(
    open_tab, bench, monkeypatch
):
    channel, bot = bench.channel, bench.bot
    recorded = asyncio.Event()
    accept = channel.inbox.accept

    async def slow_accept(*args: Any) -> bool:
        answer = await accept(*args)
        recorded.set()
        await asyncio.sleep(0.5)  # the tab closes while the channel is still accepting
        return answer

    monkeypatch.setattr(channel.inbox, "accept", slow_accept)
    async with open_tab(new_session()) as tab:
        await tab.next("history")
        await tab.say("Are you still there?")
        await recorded.wait()
    await _received_within(bot, 5)
    await channel.tasks.wait_idle()

    assert [message.text for message in bot.received] == ["Are you still there?"]


def _typed(text: str) -> dict[str, Any]:
    """An inbox body as the channel writes it for a typed message."""
    return {"text": text, "display_text": text, "lang": "en"}


async def _received_within(bot: ScriptedBot, seconds: float) -> list[str]:
    for _ in range(int(seconds / 0.05)):
        if bot.received:
            break
        await asyncio.sleep(0.05)
    return [message.text or "" for message in bot.received]


async def test_a_message_accepted_by_a_process_that_died_is_answered_after_its_lease(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    session = new_session()
    died = Inbox(tmp_path / "webchat.sqlite", "webchat", lease_seconds=0)
    await died.accept(session, "c-1", _typed("is my order lost?"))
    app, channel, bot = webchat_app(tmp_path, inbox_lease_seconds="0.2")
    async with serving(app) as base:
        assert await _received_within(bot, 10) == ["is my order lost?"]
        await channel.tasks.wait_idle()
        async with http.ws_connect(f"{base}{PREFIX}/ws", params={"session": session}) as ws:
            history = json.loads(await ws.receive_str(timeout=10))
        await asyncio.sleep(0.5)  # further replay rounds find nothing to do
    assert [line["text"] for line in history["messages"]] == [
        "is my order lost?",
        "You said: is my order lost?",
    ]
    assert len(bot.received) == 1


async def test_a_message_its_turn_stored_before_the_process_died_is_not_run_twice(
    tmp_path: Path,
) -> None:
    session = new_session()
    app, _, bot = webchat_app(tmp_path, inbox_lease_seconds="0.2")
    tracker = await bot.agent.tracker_store.get_or_create_tracker(session)
    tracker.update(UserUttered("where is my parcel", message_id="c-2"))
    await bot.agent.tracker_store.save(tracker)
    died = Inbox(tmp_path / "webchat.sqlite", "webchat", lease_seconds=0)
    await died.accept(session, "c-2", _typed("where is my parcel"))
    async with serving(app):
        await asyncio.sleep(1.0)  # several replay rounds
    assert bot.received == []
    assert await Inbox(tmp_path / "webchat.sqlite", "webchat", lease_seconds=0).take_due() == []


async def test_the_inbox_keeps_a_card_number_masked_and_forgets_the_text_after_the_turn(
    open_tab, bench, tmp_path
):
    def bodies() -> list[dict[str, Any]]:
        stored = sqlite3.connect(tmp_path / "webchat.sqlite").execute("SELECT body FROM inbox")
        return [json.loads(body) for (body,) in stored]

    bench.bot.release = asyncio.Event()
    async with open_tab(new_session()) as tab:
        await tab.next("history")
        await tab.say("my card is 4242 4242 4242 4242")
        await tab.next("typing")  # the turn runs, and waits for the release
        assert [body["text"] for body in bodies()] == ["my card is [card ending 4242]"]
        bench.bot.release.set()
        await tab.bot_reply()
    await bench.channel.tasks.wait_idle()
    assert bodies() == [{}]
