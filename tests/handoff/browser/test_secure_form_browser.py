"""A secure form link in headless Chromium, both sides: the agent sends it from the console, the
customer fills the page, the agent reveals the answers; a colleague cannot."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
KIM = "kim@lumen.example"
CARD = {"card_number": "5555 5555 5555 4444", "card_expiry": "11/28", "card_name": "Jo Marsh"}


@pytest.fixture
def service(tmp_path: Path, delivery: DeliveryEndpoint) -> Iterator[HandoffService]:
    handoff = HandoffService(tmp_path, delivery.url)
    handoff.env["SECURE_FORM_KEY"] = "browser-test-secure-form-key-0123456789"
    handoff.env["PUBLIC_URL"] = handoff.url
    handoff.seed_demo()
    handoff.start()
    yield handoff
    handoff.stop()


def test_an_agent_sends_a_secure_form_and_only_they_see_the_answers(
    service: HandoffService,
    delivery: DeliveryEndpoint,
    open_console: Callable[[], ConsolePage],
) -> None:
    dana = open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    conversation = service.intake(handoff_request())
    dana.row(conversation["id"])
    dana.open(conversation["id"])
    dana.claim()

    Select(dana.find("#secure-kind")).select_by_value("card")
    dana.find("#secure-send-button").click()
    dana.until(lambda: "waiting for the customer" in dana.text_of("#secure-list"), "no form")
    link = re.search(r"http://\S+/forms/[\w-]+", delivery.received[-1]["text"])
    assert link, delivery.received[-1]
    assert any(link.group() in line.text for line in dana.transcript())  # the agent's reply

    customer = open_console().driver
    customer.get(link.group())
    assert customer.find_element(By.TAG_NAME, "h1").text == "Send your card details securely"
    background = customer.execute_script(
        "return getComputedStyle(document.querySelector('main')).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)", "the page's nonce'd style must pass the CSP"
    for name, value in CARD.items():
        customer.find_element(By.NAME, name).send_keys(value)
    customer.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert customer.find_element(By.TAG_NAME, "h1").text == "Thank you"
    customer.refresh()  # the browser posts again: the link is used up
    assert customer.find_element(By.TAG_NAME, "h1").text == "This link was already used"

    dana.until(lambda: "submitted" in dana.text_of("#secure-list"), "the submission not shown")
    dana.until(
        lambda: any("submitted the secure form" in line.text for line in dana.transcript()),
        "no system line in the transcript",
    )
    assert all("4444" not in line.text for line in dana.transcript())
    dana.find("#secure-list [data-reveal]").click()
    answers = dana.until(lambda: dana.text_of(".secure-answers"), "the answers did not show")
    for value in CARD.values():
        assert value in answers
    dana.screenshot("secure-form-revealed")

    kim = open_console()
    kim.log_in_and_wait(KIM, service.passwords[KIM])
    # Dana's conversation is in no list of Kim's: open it as a link from a colleague would
    kim.driver.execute_script("openConversation(arguments[0])", conversation["id"])
    kim.wait_for_transcript()
    kim.until(lambda: "submitted" in kim.text_of("#secure-list"), "Kim sees the form's state")
    assert not kim.driver.find_elements(By.CSS_SELECTOR, "#secure-list [data-reveal]")
    assert not kim.shown("#secure-send")
