"""Agents' tools in the console (headless Chromium, the real service). Canned replies: "/" in
an empty reply opens the picker, the reply arrives filled for this customer and is edited before
it is sent; a supervisor adds a reply to the library. Search: "s" opens it, a customer's name
finds their conversation and a result opens it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.webdriver.common.keys import Keys

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
SUPERVISOR = "supervisor@lumen.example"
OpenConsole = Callable[[], ConsolePage]


def test_an_agent_inserts_a_filled_canned_reply_edits_it_and_sends_it(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    customer = {"id": "web-maria", "name": "Maria Lopez", "language": "en"}
    billing = service.intake(handoff_request(customer=customer))
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(billing["id"])
    console.claim()
    console.reply_box().click()

    console.press("/")
    console.until(lambda: console.shown("#canned-picker"), "the picker opens on /")
    assert console.focused_id() == "canned-search"
    console.press("refund")
    console.until(
        lambda: console.text_of("#canned-list").startswith("Refund confirmed"),
        "the search finds the billing library's refund reply",
    )
    console.screenshot("canned-picker")
    console.press(Keys.ENTER)
    console.until(lambda: not console.shown("#canned-picker"), "the picker closes")
    text = console.reply_box().get_attribute("value")
    assert text.startswith("I've issued the refund for ACC-482913.")
    assert delivery.texts() == [], "inserting a reply sends nothing"

    console.press(Keys.END + " Anything else I can help with?")
    console.press(Keys.ENTER)
    console.until(lambda: len(delivery.texts()) == 1, "the edited reply is delivered")
    assert delivery.texts()[0].endswith("email shortly. Anything else I can help with?")


def test_a_supervisor_adds_a_reply_that_agents_then_find(
    service: HandoffService, open_console: OpenConsole
) -> None:
    billing = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(SUPERVISOR, service.passwords[SUPERVISOR])
    console.open(billing["id"])
    console.claim()
    console.find("#canned-open").click()
    console.until(lambda: console.shown("#canned-manage"), "supervisors may edit the library")
    console.find("#canned-manage").click()
    console.until(lambda: "Greeting" in console.text_of("#canned-library"), "the library lists")
    console.find("#canned-form-title").send_keys("Invoice copy")
    console.find("#canned-form-text").send_keys("Hi {customer_nickname}")
    console.find("#canned-form-save").click()
    console.until(lambda: console.shown("#canned-form-error"), "a wrong placeholder is refused")
    assert "customer_nickname" in console.text_of("#canned-form-error")
    text = console.find("#canned-form-text")
    text.clear()
    text.send_keys("A copy of invoice {order_reference} is in your inbox.")
    console.find("#canned-form-save").click()
    console.until(lambda: "Invoice copy" in console.text_of("#canned-library"), "it is stored")
    console.find("#canned-dialog-close").click()

    console.find("#canned-open").click()
    console.find("#canned-search").send_keys("invoice")
    console.until(
        lambda: console.text_of("#canned-list").startswith("Invoice copy"), "found by search"
    )


def test_an_agent_finds_a_conversation_by_the_customer_s_name_and_opens_it(
    service: HandoffService, open_console: OpenConsole
) -> None:
    maria = {"id": "web-maria", "name": "Maria Lopez", "language": "en"}
    wanted = service.intake(handoff_request(customer=maria))
    other = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.until(lambda: len(console.row_ids()) == 2, "both handoffs are listed")
    console.press("s")
    console.until(lambda: console.focused_id() == "search-text", "s opens the search")
    console.find("#search-customer").send_keys("lopez")
    console.find("#search-customer").send_keys(Keys.ENTER)
    console.until(
        lambda: "Maria Lopez" in console.text_of("#search-results"), "the customer is found"
    )
    results = console.driver.find_elements("css selector", "#search-results [data-id]")
    assert [r.get_attribute("data-id") for r in results] == [wanted["id"]]
    assert other["id"] not in console.text_of("#search-results")
    console.screenshot("search")
    results[0].click()
    console.until(lambda: "Maria Lopez" in console.header(), "the result opens")


def test_the_owner_moves_a_live_chat_to_answer_later_and_the_customer_is_told(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    billing = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(billing["id"])
    console.claim()
    assert "Live chat" in console.header()
    console.find("#act-mode").click()
    console.until(lambda: "Answer later" in console.header(), "the header shows the new mode")
    console.until(
        lambda: any("No need to wait here" in text for text in delivery.texts("system")),
        "the customer is told in the channel",
    )
    assert console.text_of("#act-mode") == "Switch to live chat"


def test_an_agent_snoozes_until_the_customer_replies_and_the_reply_wakes_it(
    service: HandoffService, open_console: OpenConsole
) -> None:
    billing = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(billing["id"])
    console.claim()
    console.find("#act-snooze").click()
    console.find("#snooze-note").send_keys("waiting for the bank statement")
    console.find("#snooze-form button[type=submit]").click()
    console.until(
        lambda: "Snoozed until the customer replies" in console.header(), "the header says so"
    )
    assert console.shown("#act-unsnooze") and not console.shown("#act-snooze")
    console.screenshot("snoozed")

    service.customer_says(billing["conversation_id"], "here is the statement")
    console.until(lambda: "Snoozed" not in console.header(), "the customer's reply wakes it")
    console.until(
        lambda: console.transcript()[-1].text == "here is the statement", "the reply is shown"
    )
