"""Suggested replies in the console (headless Chromium, the real service with the demo canned
library): three suggestions beside the reply box, Alt+1 puts the first one, filled for this
customer, into the box, the agent edits and sends it; Alt+0 dismisses them. What the agent did is
what the store records. A supervisor adds a reply the team keeps sending to the library."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
SUPERVISOR = "supervisor@lumen.example"
OpenConsole = Callable[[], ConsolePage]
SLOW_FIRST_ENCODE = 120.0  # the service loads the encoder on its first round


def alt(console: ConsolePage, key: str) -> None:
    ActionChains(console.driver).key_down(Keys.ALT).send_keys(key).key_up(Keys.ALT).perform()


def outcomes(tmp_path: Path) -> list[tuple[str, int | None]]:
    with sqlite3.connect(tmp_path / "handoff.sqlite3") as db:
        rows = db.execute(
            "SELECT outcome, edit_distance FROM suggestion_feedback WHERE outcome != 'shown'"
            " ORDER BY created_at"
        )
        return list(rows)


def test_an_agent_uses_edits_and_sends_a_suggestion_then_dismisses_the_next_ones(
    service: HandoffService,
    delivery: DeliveryEndpoint,
    open_console: OpenConsole,
    tmp_path: Path,
) -> None:
    customer = {"id": "web-maria", "name": "Maria Lopez", "language": "en"}
    billing = service.intake(handoff_request(customer=customer))
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(billing["id"])
    console.claim()

    console.until(
        lambda: console.shown("#suggestions"), "suggestions appear", seconds=SLOW_FIRST_ENCODE
    )
    items = console.driver.find_elements("css selector", "#suggestion-list .suggestion")
    assert 1 <= len(items) <= 3
    first = console.text_of("#suggestion-list .suggestion .suggestion-text")
    assert first.startswith("Thanks for waiting, Maria. I can see the second charge")
    assert "same topic: billing" in console.text_of("#suggestion-list .suggestion-why")
    console.screenshot("suggestions")

    alt(console, "1")
    console.until(
        lambda: console.reply_box().get_attribute("value") == first, "Alt+1 fills the reply box"
    )
    assert console.focused_id() == "composer-text"
    assert delivery.texts() == [], "using a suggestion sends nothing"
    console.press(Keys.END + " Anything else?")
    console.press(Keys.ENTER)
    console.until(lambda: len(delivery.texts()) == 1, "the edited suggestion is delivered")
    assert delivery.texts()[0] == first + " Anything else?"
    console.until(lambda: outcomes(tmp_path) == [("edited", 15)], "an edit is recorded")

    service.customer_says(
        billing["conversation_id"], "and please refund the second payment for my order LH20481937"
    )
    console.until(
        lambda: "issued the refund for" in console.text_of("#suggestion-list"),
        "the new customer message brings new suggestions",
    )
    shown = len(console.driver.find_elements("css selector", "#suggestion-list .suggestion"))
    alt(console, "0")
    console.until(lambda: not console.shown("#suggestions"), "Alt+0 dismisses them")
    console.until(
        lambda: outcomes(tmp_path) == [("edited", 15)] + [("rejected", None)] * shown,
        "each dismissed suggestion is recorded as rejected",
    )


def propose(tmp_path: Path, text: str) -> None:
    """A mined billing reply that agents sent unchanged three times, written into the store."""
    conversation, entry = uuid.uuid4().hex, uuid.uuid4().hex
    now = "2026-11-30 10:00:00.000000"
    with sqlite3.connect(tmp_path / "handoff.sqlite3") as db:
        db.execute(
            "INSERT INTO conversations (id, conversation_id, customer_language, status,"
            " priority_level, priority_name, tags, reasons, frustration_score,"
            " frustration_signals, created_at, updated_at, version, last_seq, triage_topic, team)"
            " VALUES (?, ?, 'en', 'resolved', 3, 'normal', '[]', '[]', 0, '[]', ?, ?, 1, 0,"
            " 'billing', 'billing')",
            (conversation, f"past-{conversation}", now, now),
        )
        db.execute(
            "INSERT INTO suggestion_entries (id, conversation_id, message_id, team, topic,"
            " language, context, text, context_vector, text_vector, created_at)"
            " VALUES (?, ?, ?, 'billing', 'billing', 'en', 'charged twice', ?, ?, ?, ?)",
            (entry, conversation, uuid.uuid4().hex, text, bytes(1536), bytes(1536), now),
        )
        for _ in range(3):
            db.execute(
                "INSERT INTO suggestion_feedback (id, conversation_id, suggestion, topic,"
                " outcome, edit_distance, created_at) VALUES (?, ?, ?, 'billing', 'used', 0, ?)",
                (uuid.uuid4().hex, conversation, f"mined:{entry}", now),
            )


def test_a_supervisor_adds_a_reply_the_team_keeps_sending_to_the_library(
    service: HandoffService, open_console: OpenConsole, tmp_path: Path
) -> None:
    text = "I've refunded the second payment for {order_reference}; it shows within five days."
    propose(tmp_path, text)
    billing = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(SUPERVISOR, service.passwords[SUPERVISOR])
    console.open(billing["id"])
    console.claim()
    console.find("#canned-open").click()
    console.until(lambda: console.shown("#canned-manage"), "supervisors may edit the library")
    console.find("#canned-manage").click()
    console.until(lambda: console.shown("#canned-proposals-box"), "the proposal is listed")
    assert "sent unchanged 3 times" in console.text_of("#canned-proposals")
    console.find("#canned-proposals [data-propose]").click()
    assert console.find("#canned-form-text").get_attribute("value") == text
    assert console.find("#canned-form-topics").get_attribute("value") == "billing"
    console.find("#canned-form-title").send_keys("Second payment refunded")
    console.find("#canned-form-save").click()
    console.until(
        lambda: "Second payment refunded" in console.text_of("#canned-library"),
        "the proposal is in the library",
    )
    console.until(lambda: not console.shown("#canned-proposals-box"), "and no longer proposed")
