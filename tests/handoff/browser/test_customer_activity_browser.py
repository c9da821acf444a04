"""The agent sees in the conversation header whether the web chat customer is still there:
online, typing, gone (and since when), live and after a reload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"


def test_the_header_shows_the_customer_online_typing_and_gone(
    service: HandoffService, open_console: Callable[[], ConsolePage]
) -> None:
    here, gone = service.intake(handoff_request()), service.intake(handoff_request())
    three_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=3, seconds=10)
    service.customer_activity(gone["conversation_id"], "left", three_minutes_ago)
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])

    def shows(text: str) -> Callable[[], bool]:
        return lambda: console.customer_activity().startswith(text)

    console.open(gone["id"])
    console.until(shows("Left the page 3 min ago"), "the customer's leaving is not shown")

    console.open(here["id"])
    assert console.customer_activity() == ""  # nothing reported yet
    for state, text in [
        ("online", "Customer online"),
        ("typing", "Customer typing…"),
        ("online", "Customer online"),  # stopped typing
        ("left", "Left the page just now"),
    ]:
        service.customer_activity(here["conversation_id"], state, datetime.now(timezone.utc))
        console.until(shows(text), f"the header does not say {text!r}")
        if state == "typing":
            console.screenshot("customer-typing")

    console.driver.refresh()
    console.until(lambda: console.shown("#app"), "the reload asked for the password again")
    console.open(here["id"])
    console.until(shows("Left the page"), "the reloaded console forgot the customer left")
