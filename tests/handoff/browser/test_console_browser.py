"""The agent console in headless Chromium against the real service, end to end: live queue,
transcript, claim, reply through the connector, a second agent's view, keyboard, reconnects."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from handoff.notices import notice as customer_notice
from tests.handoff.browser.console_page import ConsolePage, Line
from tests.handoff.browser.factories import (
    handoff_request,
    low_order_request,
    urgent_device_request,
)
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
KIM = "kim@lumen.example"
OpenConsole = Callable[[], ConsolePage]


def agent_lines(console: ConsolePage) -> list[Line]:
    return [line for line in console.transcript() if line.author == "agent"]


def test_a_new_handoff_appears_live_and_the_agent_answers_it(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    console = open_console()
    console.screenshot("login")
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.mark_page()

    billing = service.intake(handoff_request())
    row = console.row_text(billing["id"])
    assert console.page_kept(), "the handoff must arrive live, without a reload"
    for shown in (
        "New",
        "High",
        "Billing",
        "Charged twice for the October invoice",
        "Live chat",
        "Billing team",
        "Waiting",
        "SLA",
        "Frustrated 82%",
    ):
        assert shown in row
    urgent = service.intake(urgent_device_request())
    later = service.intake(low_order_request())
    console.until(lambda: len(console.row_ids()) == 3, "all three handoffs are listed")
    assert console.row_ids() == [urgent["id"], billing["id"], later["id"]]
    assert "Answer later" in console.row_text(later["id"])
    console.screenshot("queue")

    console.open(billing["id"])
    lines = console.transcript()
    assert [(line.author, line.text) for line in lines] == [
        ("customer", "I was charged twice this month"),
        ("bot", "Sorry about that! What is your account reference?"),
        ("customer", "THIS IS THE THIRD TIME I WRITE. ACC-482913"),
        ("bot", "I'm passing you to a person from our billing team now."),
    ]
    bot_line, shouting = lines[1], lines[2]
    assert bot_line.head == "Bot" and bot_line.has_robot
    assert shouting.align == "flex-start" and "Shouting" in shouting.foot
    assert "Queued" in console.header() and "Unassigned" in console.header()
    for shown in (
        "ACC-482913",
        "Charged twice",
        "Frustration",
        "≥ 0.7 → high priority",
        "frustrated",
        "Repeated contact",
    ):
        assert shown in console.triage()
    assert console.action_buttons() == ["Claim"]
    assert not console.reply_box().is_enabled()

    console.claim()
    assert "Owner: you" in console.header()
    assert console.action_buttons() == [
        "Transfer…",
        "Release",
        "Resolve",
        "Resolve without survey",
        "Return to bot",
        "Switch to answer later",
        "Snooze…",
    ]
    answer = "Hi, I'm Dana from billing. I see the double charge and I'm refunding it now."
    console.type_and_enter(answer)
    line = console.until(lambda: agent_lines(console), "the reply is not in the transcript")[0]
    assert (line.head, line.text, line.align) == ("Dana", answer, "flex-end")
    assert len(agent_lines(console)) == 1, "the reply and its live event are one line"
    console.until(lambda: "Sent" in agent_lines(console)[0].foot, "the reply is not marked sent")
    joined = customer_notice("joined", "en", agent="Dana", brand="Lumen Home")
    assert delivery.texts("system") == [joined]
    assert delivery.by("agent") == [
        {
            "conversation_id": billing["conversation_id"],
            "channel": "webchat",
            "message_id": delivery.by("agent")[0]["message_id"],
            "author_type": "agent",
            "author_name": "Dana",
            "text": answer,
        }
    ]
    assert console.reply_box().get_attribute("value") == ""

    service.customer_says(billing["conversation_id"], "Thank you, that was quick!")
    console.until(
        lambda: console.transcript()[-1].text == "Thank you, that was quick!",
        "the customer's new line did not appear live",
    )
    assert console.transcript()[-1].author == "customer"
    console.screenshot("conversation")


def test_a_second_agent_sees_the_claim_live_and_cannot_reply(
    service: HandoffService, open_console: OpenConsole
) -> None:
    handoff = service.intake(handoff_request())
    dana, kim = open_console(), open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    kim.log_in_and_wait(KIM, service.passwords[KIM])
    kim.open(handoff["id"])
    assert kim.action_buttons() == ["Claim"] and kim.lock_banner() == ""

    dana.open(handoff["id"])
    dana.claim()

    kim.until(lambda: "Claimed by Dana" in kim.lock_banner(), "Kim's view did not lock")
    assert kim.action_buttons() == []
    assert not kim.reply_box().is_enabled()
    assert "Claimed by Dana" in (kim.reply_box().get_attribute("placeholder") or "")
    assert "Owner: Dana" in kim.header()
    kim.until(lambda: handoff["id"] not in kim.row_ids(), "the claimed handoff stayed queued")

    kim.press("n")  # others may still leave notes for the owner
    kim.type_and_enter("She called about this yesterday too.")
    note = kim.until(
        lambda: [line for line in kim.transcript() if line.author == "note"],
        "the note is not in the transcript",
    )[0]
    assert "Internal note — not sent" in note.head and "Kim" in note.head
    kim.screenshot("claimed-by-other")
    dana.show_tab("mine")
    assert dana.row_ids() == [handoff["id"]]


def test_a_transfer_hands_the_conversation_and_a_note_to_a_colleague(
    service: HandoffService, open_console: OpenConsole
) -> None:
    handoff = service.intake(handoff_request())
    dana, kim = open_console(), open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    kim.log_in_and_wait(KIM, service.passwords[KIM])
    kim.show_tab("mine")
    dana.open(handoff["id"])
    dana.claim()

    dana.find("#act-transfer").click()
    dana.until(lambda: dana.shown("#transfer-dialog"), "the transfer dialog did not open")
    agents = Select(dana.find("#transfer-agent"))
    kim_option = next(o for o in agents.options if o.text.startswith("Kim ("))
    assert "Billing" in kim_option.text, "agents are listed with their teams"
    agents.select_by_visible_text(kim_option.text)
    dana.find("#transfer-note").send_keys("Refund is approved, please confirm the amount.")
    dana.screenshot("transfer")
    dana.find("#transfer-form button[type=submit]").click()

    dana.until(lambda: "Claimed by Kim" in dana.lock_banner(), "Dana's view did not lock")
    assert not dana.shown("#transfer-dialog")
    note = [line for line in dana.transcript() if line.author == "note"]
    assert [(line.text, "Dana" in line.head) for line in note] == [
        ("Refund is approved, please confirm the amount.", True)
    ]
    kim.until(lambda: kim.row_ids() == [handoff["id"]], "the transfer is not in Kim's list")

    kim.open(handoff["id"])
    assert kim.action_buttons() == [
        "Transfer…",
        "Release",
        "Resolve",
        "Resolve without survey",
        "Return to bot",
        "Switch to answer later",
        "Snooze…",
    ]
    kim.find("#act-resolve").click()
    kim.until(lambda: "Resolved" in kim.header(), "the conversation was not resolved")
    assert kim.row_ids() == [] and kim.action_buttons() == []
    assert "This conversation is resolved." in (kim.reply_box().get_attribute("placeholder") or "")


def test_an_agent_works_with_the_keyboard_only(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    billing = service.intake(handoff_request())
    urgent = service.intake(urgent_device_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.until(lambda: console.row_ids() == [urgent["id"], billing["id"]], "queue order")

    console.press("?")
    console.until(lambda: console.shown("#shortcuts"), "the shortcuts overlay did not open")
    assert "Claim the open conversation" in console.text_of("#shortcuts")
    console.screenshot("shortcuts")
    console.press(Keys.ESCAPE)
    console.until(lambda: not console.shown("#shortcuts"), "Esc did not close the overlay")

    assert console.selected_row() == urgent["id"]
    console.press("j")
    assert console.selected_row() == billing["id"]
    console.press("k")
    assert console.selected_row() == urgent["id"]
    console.press(Keys.ARROW_DOWN)
    console.press(Keys.ENTER)
    console.wait_for_transcript()
    assert billing["conversation_id"] in console.header()

    console.press("c")
    console.until(lambda: console.focused_id() == "composer-text", "claiming focuses the reply")
    console.press(Keys.ESCAPE)
    console.press("n")
    console.type_and_enter("Refund approved by finance.")
    console.until(lambda: any(line.author == "note" for line in console.transcript()), "no note")
    console.press(Keys.ESCAPE)
    console.press("r")
    console.press("First line")
    console.new_line()
    console.type_and_enter("second line")
    reply = console.until(lambda: agent_lines(console), "no reply")[0]
    assert reply.text == "First line\nsecond line"
    assert delivery.texts() == ["First line\nsecond line"], "notes are never sent"

    console.press(Keys.ESCAPE)
    console.press(Keys.ESCAPE)
    console.until(lambda: not console.shown("#conversation"), "Esc did not close the conversation")
    # the claimed conversation left the queue: the next waiting one is selected
    assert console.row_ids() == [urgent["id"]] and console.selected_row() == urgent["id"]


def test_errors_from_the_api_and_the_channel_are_shown_where_the_agent_works(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    console = open_console()
    console.log_in(DANA, "not-the-password")
    console.until(lambda: console.text_of("#login-error"), "no login error shown")
    assert not console.shown("#app")

    console.log_in_and_wait(DANA, service.passwords[DANA])
    handoff = service.intake(handoff_request())
    console.open(handoff["id"])
    console.claim()
    refused, reason = "Your order is on its way.", "WhatsApp's 24-hour window is closed."
    delivery.refusals[refused] = reason
    console.type_and_enter(refused)
    console.until(
        lambda: any(f"Not delivered: {reason}" in line.foot for line in agent_lines(console)),
        "the channel's refusal is not shown on the line",
    )

    console.find("#act-return").click()  # no Rasa runs here: the service answers with an error
    console.until(console.error, "the API's error is not shown")
    assert "Assigned" in console.header(), "nothing changed"
    console.screenshot("errors")


def test_the_session_survives_a_reload_and_ends_at_logout(
    service: HandoffService, open_console: OpenConsole
) -> None:
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.driver.refresh()
    console.until(lambda: console.shown("#app"), "a reload asked for the password again")
    assert "Dana" in console.text_of("#me-name")

    console.find("#logout").click()
    console.until(lambda: console.shown("#login-form"), "logout did not show the login form")
    console.driver.refresh()
    console.until(lambda: console.shown("#login-form"), "the session outlived the logout")


def test_the_console_reconnects_after_the_service_restarts(
    service: HandoffService, open_console: OpenConsole
) -> None:
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])

    service.stop()
    console.until(lambda: console.connection() == "Reconnecting…", "no reconnecting state")
    console.screenshot("reconnecting")
    service.start()
    console.until(lambda: console.connection() == "Live", "did not reconnect", seconds=30)

    handoff = service.intake(handoff_request())
    console.row(handoff["id"])


# Records what the page's Content-Security-Policy blocks; added before any page script runs.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_the_console_works_under_its_content_security_policy(
    service: HandoffService, open_console: OpenConsole
) -> None:
    console = open_console()
    console.driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CSP_VIOLATIONS}
    )
    console.driver.refresh()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    handoff = service.intake(handoff_request())
    console.row(handoff["id"])
    console.open(handoff["id"])
    console.wait_for_transcript()
    width = console.until(  # read in one go: a live update may redraw the panel meanwhile
        lambda: console.find("#triage .meter span").value_of_css_property("width"),
        "the frustration meter is not drawn",
    )
    assert width != "0px"  # styled through the CSSOM
    assert console.driver.execute_script("return window.cspViolations") == []
