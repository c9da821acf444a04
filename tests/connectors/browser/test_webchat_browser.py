"""The chat widget in headless Chromium against the real channel (scripted bot, no model)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from tests.connectors.browser.conftest import DESKTOP, PHONE
from tests.connectors.browser.widget_page import WAIT_SECONDS

pytestmark = pytest.mark.slow

BOT = "Lumen assistant · bot"


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_customer_chats_with_the_bot_and_uses_its_buttons(browser, viewport, name):
    page = browser(viewport)
    page.screenshot(f"{name}-closed")
    page.open_chat()
    page.say("My kitchen lamp is offline")

    page.wait_for_line("customer", "My kitchen lamp is offline", "You")
    page.wait_for_line("bot", "You said: My kitchen lamp is offline", BOT)
    assert page.button_titles() == ["Track my order", "Device offline"]
    page.press("Device offline")
    page.wait_for_line("customer", "Device offline")
    page.wait_for_line("bot", "Let's look at that (device offline).", BOT)
    assert page.button_titles() == []  # old buttons go once the conversation moved on
    page.screenshot(f"{name}-conversation")


def test_talk_to_a_person_is_always_one_tap_away(browser):
    page = browser(PHONE)
    page.open_chat()
    page.talk_to_a_person()
    page.wait_for_line("customer", "I'd like to talk to a person")
    page.wait_for_line("bot", "Sure, I'm bringing in a person from our team.", BOT)


def test_coming_back_later_shows_the_history_and_the_agents_reply(browser, server):
    page = browser(DESKTOP)
    page.open_chat()
    page.say("Where is my order #4711?")
    page.wait_for_line("bot", "You said: Where is my order #4711?", BOT)
    session = page.session()
    browser.close(page)

    # While the customer is away, an agent picks the conversation up.
    assert server.deliver(session, "Dana from support joined", "system", None)["note"]
    server.deliver(session, "Hi, Dana here. Your parcel left our warehouse today.")

    page = browser(DESKTOP)  # same browser profile: same localStorage
    assert page.session() == session
    page.open_chat()
    page.wait_for_line("agent", "Hi, Dana here. Your parcel left our warehouse today.")
    assert [(line.kind, line.author, line.text) for line in page.lines()] == [
        ("customer", "You", "Where is my order #4711?"),
        ("bot", BOT, "You said: Where is my order #4711?"),
        ("system", "", "Dana from support joined"),
        ("agent", "Dana · Lumen Home", "Hi, Dana here. Your parcel left our warehouse today."),
    ]

    answer = server.deliver(session, "Anything else I can help with?")
    assert "note" not in answer  # delivered live to the open widget
    page.wait_for_line("agent", "Anything else I can help with?", "Dana · Lumen Home")
    page.screenshot("history-and-agent")


def test_the_widget_reconnects_after_a_server_restart_and_sends_what_was_typed(browser, server):
    page = browser(PHONE)
    page.open_chat()
    page.say("Hello")
    page.wait_for_line("bot", "You said: Hello", BOT)

    server.stop()
    page.wait(lambda: page.status().startswith("Reconnecting"), "the reconnecting notice")
    page.say("Are you still there?")
    pending = page.wait(
        lambda: next((line for line in page.lines() if line.pending), None), "a queued line"
    )
    assert pending.text == "Are you still there?"
    page.screenshot("reconnecting")

    server.start()
    # the widget's next try may be up to its longest backoff (30 s) after the server is back
    page.wait_for_line("bot", "You said: Are you still there?", BOT, seconds=WAIT_SECONDS + 30)
    assert page.status() == ""
    texts = [line.text for line in page.lines()]
    assert texts.count("Are you still there?") == 1
    assert texts.count("You said: Are you still there?") == 1
    page.screenshot("reconnected")


def test_the_widget_works_from_the_keyboard_and_announces_new_lines(browser):
    page = browser(DESKTOP)
    page.keyboard_to_launcher()
    page.press_key(Keys.ENTER)
    assert page.focused_id() == "lc-input"  # opening puts the cursor in the message box
    page.press_key("Hi there", Keys.ENTER)
    page.wait_for_line("bot", "You said: Hi there", BOT)
    assert page.log_attributes() == {"role": "log", "aria-live": "polite"}

    page.press_key(Keys.ESCAPE)
    assert not page.panel.is_displayed()
    assert page.focused_class() == "lc-launcher"  # focus goes back where it came from
