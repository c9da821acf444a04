"""A conversation's life in the console (headless Chromium, the real service): the WhatsApp
window's countdown and warning, and once it closed the reason in place of the reply box with
the configured template, filled for this customer, sent as a template (the customer's last
line is dated in the intake's transcript; nothing waits for time to pass); a supervisor's
crisis bulk move of the conversations a filter selects, its undo, then their resolution once
confirmed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.support.ui import Select

from contracts.values import format_time
from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
SUPERVISOR = "supervisor@lumen.example"
OpenConsole = Callable[[], ConsolePage]


def whatsapp_request(customer_wrote: timedelta) -> dict:
    """A WhatsApp handoff of Maria Lopez whose last line came `customer_wrote` ago."""
    wa_id = f"4915{uuid.uuid4().int % 10**9:09d}"
    line = {
        "author_type": "customer",
        "text": "My invoice is wrong",
        "timestamp": format_time(datetime.now(timezone.utc) - customer_wrote),
        "message_id": f"wamid.{wa_id}",
        "channel": "whatsapp",
        "entities": [],
        "payload": False,
    }
    customer = {"id": wa_id, "name": "Maria Lopez", "language": "en"}
    return handoff_request(
        conversation_id=wa_id, channel="whatsapp", customer=customer, transcript=[line]
    )


def test_a_closed_whatsapp_window_offers_the_filled_template(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    late = service.intake(whatsapp_request(timedelta(hours=30)))
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(late["id"])
    console.find("#act-claim").click()  # the reply box stays locked: the window is closed
    console.until(lambda: console.shown("#window-template"), "the template replaces the reply")
    assert "Window closed" in console.header()
    assert not console.reply_box().is_enabled()
    reason = console.text_of("#window-reason")
    assert "last wrote 30 hours ago" in reason and "within 24 hours" in reason
    console.until(
        lambda: console.text_of("#window-template-text").startswith(
            "Hello Maria, we have an update on your billing request."
        ),
        "the template is filled with the customer's name and topic",
    )
    console.screenshot("window-closed-template")
    console.find("#window-template-send").click()
    console.until(lambda: len(delivery.texts()) == 1, "the template is delivered")
    [sent] = delivery.by("agent")
    assert sent["template"] == {
        "name": "agent_follow_up",
        "language": "en_US",
        "parameters": ["Maria", "billing"],
    }


def test_the_window_counts_down_and_warns_before_it_closes(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    closing = service.intake(whatsapp_request(timedelta(hours=23, minutes=30)))
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(closing["id"])
    console.claim()
    pill = console.until(
        lambda: console.find(".conv-meta .reply-window"), "the countdown is in the header"
    )
    assert pill.text.startswith("Reply window: 2") and pill.text.endswith("min left")
    assert pill.get_attribute("data-warning") == "true"
    console.until(lambda: console.shown("#window-warning"), "the reply box warns")
    assert "closes in" in console.text_of("#window-warning")
    assert console.reply_box().is_enabled(), "free text can still go"
    console.type_and_enter("Checking your invoice now.")
    console.until(lambda: delivery.texts() == ["Checking your invoice now."], "the reply goes")
    assert "template" not in delivery.by("agent")[0]


def test_a_supervisor_moves_an_outage_to_the_specialists_undoes_it_then_resolves_it(
    service: HandoffService, open_console: OpenConsole
) -> None:
    outage = {"topic": "technical", "description": "The hub says error 503 since this morning"}
    moved = [service.intake(handoff_request(triage=outage)) for _ in range(2)]
    stays = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(SUPERVISOR, service.passwords[SUPERVISOR])
    console.find("#crisis-button").click()
    console.until(lambda: console.shown("#crisis-dialog"), "the crisis tools open")
    console.find("#crisis-text").send_keys("error 503")
    console.find("#crisis-preview").click()
    console.until(
        lambda: console.text_of("#crisis-count") == "2 open conversations match.",
        "the preview counts the selection",
    )
    Select(console.find("#crisis-action")).select_by_value("move")
    Select(console.find("#crisis-team")).select_by_value("devices")
    console.find("#crisis-apply").click()
    console.until(
        lambda: console.text_of("#crisis-result").startswith("Done for 2 conversations"),
        "both are moved in one action",
    )
    console.screenshot("crisis-bulk-move")
    for conversation in moved:
        console.until(lambda c=conversation: "Device support" in console.row_text(c["id"]), "moved")
    assert "Device support" not in console.row_text(stays["id"])
    console.find("#crisis-undo").click()
    console.until(
        lambda: console.text_of("#crisis-result") == "Undone for 2 conversations.",
        "the move is undone",
    )
    for conversation in moved:
        console.until(
            lambda c=conversation: "Device support" not in console.row_text(c["id"]), "back"
        )
    # resolving cannot be undone: the dialog asks first, with the count, then resolves them all
    Select(console.find("#crisis-action")).select_by_value("resolve")
    assert not console.shown("#crisis-value") and console.shown("#crisis-survey")
    console.find("#crisis-survey").click()  # no survey for an outage
    console.find("#crisis-apply").click()
    console.until(lambda: console.shown("#crisis-confirm"), "resolving asks for confirmation")
    assert console.text_of("#crisis-confirm-text").startswith("Resolve 2 open conversations?")
    assert "cannot be undone" in console.text_of("#crisis-confirm-text")
    console.screenshot("crisis-bulk-resolve-confirm")
    console.find("#crisis-confirm-yes").click()
    console.until(
        lambda: console.text_of("#crisis-result") == "Done for 2 conversations.",
        "both are resolved in one action",
    )
    assert not console.shown("#crisis-undo"), "a resolution cannot be undone"
    console.until(
        lambda: not {c["id"] for c in moved} & set(console.row_ids()), "resolved: out of the queue"
    )
    assert stays["id"] in console.row_ids()
