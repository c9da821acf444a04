"""The customer's history in the console's side panel: an agent sees the customer's earlier
conversation from another channel (with its tags, handoffs and the identity that links them),
opens it from there, and merges a third record by the email it was written with."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"


def with_reference(reference: str, **overrides: object) -> dict[str, object]:
    request = handoff_request(**overrides)
    request["triage"] = {**request["triage"], "reference": reference}
    return request


def listed(console: ConsolePage) -> list[str]:
    items = console.driver.find_elements(By.CSS_SELECTOR, "#history-list .history-item")
    return [item.get_attribute("data-id") for item in items]


def test_the_history_panel_lists_opens_and_merges_the_customers_conversations(
    service: HandoffService, open_console: Callable[[], ConsolePage]
) -> None:
    account = f"ACC-{uuid.uuid4().int % 10**6:06d}"
    email = f"kim-{uuid.uuid4().hex[:6]}@mail.example"
    earlier = service.intake(
        with_reference(
            account,
            channel="whatsapp",
            customer={"id": "4915190001234", "language": "en"},
            tags=["billing", "refund"],
        )
    )
    later = service.intake(with_reference(account))
    stranger = service.intake(with_reference(email))
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])

    console.open(later["id"])
    console.until(lambda: listed(console) == [earlier["id"]], "the earlier conversation is missing")
    item = console.text_of("#history-list .history-item")
    assert "WhatsApp" in item and "refund" in item and "1 handoff" in item
    assert account in console.text_of("#history-identities")
    console.screenshot("history")

    console.find("#history-list .history-open").click()
    console.until(lambda: listed(console) == [later["id"]], "the earlier conversation did not open")
    assert console.driver.execute_script("return state.open.id") == earlier["id"]

    console.find("#history-merge-identity").send_keys(email.upper())
    console.find("#history-merge button").click()
    console.until(
        lambda: set(listed(console)) == {later["id"], stranger["id"]},
        "the merged customer's conversation is missing",
    )
    assert email in console.text_of("#history-identities")
