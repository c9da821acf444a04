"""The console's integrations in headless Chromium against the real service: the CRM record in
the side panel (and "unavailable" when the CRM fails), and the admins' webhooks dialog."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService
from tests.handoff.crm_stub import TOKEN, CrmStub, crm_stub

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
ADMIN, ADMIN_PASSWORD = "ops-admin@lumen.example", "admin password for the browser test"
OpenConsole = Callable[[], ConsolePage]


class ThreadedCrm:
    """The CRM stub on its own event loop in a thread (Selenium blocks the test's thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stack = AsyncExitStack()
        self.stub: CrmStub | None = None

    def __enter__(self) -> CrmStub:
        self.thread.start()
        entered = self.stack.enter_async_context(crm_stub())
        self.stub = asyncio.run_coroutine_threadsafe(entered, self.loop).result()
        return self.stub

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.stack.aclose(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture
def crm() -> Iterator[CrmStub]:
    with ThreadedCrm() as stub:
        yield stub


@pytest.fixture
def service(tmp_path: Path, delivery: DeliveryEndpoint, crm: CrmStub) -> Iterator[HandoffService]:
    handoff = HandoffService(tmp_path, delivery.url)
    handoff.env.update(
        CRM_LOOKUP_URL=crm.url + "/api/v2/customers?reference={reference}",
        CRM_TOKEN=TOKEN,
        CRM_CACHE_SECONDS="0",
        CRM_FIELDS="Name=data.full_name, Plan=data.plan.name, Open orders=data.orders.open",
    )
    handoff.seed_demo()
    handoff.cli("create-admin", "--email", ADMIN, "--name", "Ops", "--password", ADMIN_PASSWORD)
    handoff.start()
    yield handoff
    handoff.stop()


def crm_panel(console: ConsolePage) -> str:
    return console.until(
        lambda: (text := console.text_of("#crm-body")) and "Looking up" not in text and text,
        "the CRM section did not show a result",
    )


def test_the_side_panel_shows_the_crm_record_and_unavailable_when_the_crm_fails(
    service: HandoffService, open_console: OpenConsole, crm: CrmStub
) -> None:
    known = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(known["id"])
    panel = crm_panel(console)
    assert "Ana Silva" in panel and "Home Premium" in panel and "Open orders\n2" in panel
    assert console.shown("#integrations button[data-export='html']")

    crm.mode = "error"
    broken = service.intake(handoff_request())
    console.open(broken["id"])
    panel = crm_panel(console)
    assert "CRM unavailable" in panel and "HTTP 500" in panel
    assert console.shown("#conversation")  # the conversation works as before
    crm.mode = "normal"
    console.find("#crm-body button[data-crm-retry]").click()
    assert "Ana Silva" in crm_panel(console)


def test_the_side_panel_shows_the_survey_decision_once_a_person_resolved(
    service: HandoffService, open_console: OpenConsole
) -> None:
    conversation = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(conversation["id"])
    console.until(
        lambda: "Not resolved by a person yet" in console.text_of("#csat-body"),
        "the survey section is missing",
    )
    console.claim()
    console.reply_box().click()
    console.type_and_enter("Your refund is on its way.")
    console.until(
        lambda: any(line.author == "agent" for line in console.transcript()),
        "the reply did not show",
    )
    console.find("#act-resolve").click()
    console.until(
        lambda: "not sent yet" in console.text_of("#csat-body"),  # no bot here to start it
        "the survey decision is not shown after resolving",
    )


def test_resolving_without_survey_shows_why_none_goes_out(
    service: HandoffService, open_console: OpenConsole
) -> None:
    conversation = service.intake(handoff_request())
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])
    console.open(conversation["id"])
    console.claim()
    console.reply_box().click()
    console.type_and_enter("All sorted, have a good evening.")
    console.until(
        lambda: any(line.author == "agent" for line in console.transcript()),
        "the reply did not show",
    )
    console.find("#act-resolve-no-survey").click()
    console.until(
        lambda: "Not sent: the agent resolved without survey" in console.text_of("#csat-body"),
        "resolving without survey is not shown",
    )


def test_an_admin_registers_a_webhook_sees_its_secret_once_and_its_delivery_log(
    service: HandoffService, open_console: OpenConsole
) -> None:
    agent = open_console()
    agent.log_in_and_wait(DANA, service.passwords[DANA])
    assert not agent.shown("#webhooks-button")

    console = open_console()
    console.log_in_and_wait(ADMIN, ADMIN_PASSWORD)
    console.until(lambda: console.shown("#webhooks-button"), "admins get no Webhooks button")
    console.find("#webhooks-button").click()
    console.until(lambda: console.shown("#webhook-form"), "the webhooks dialog did not open")
    console.find("#webhook-url").send_keys("http://127.0.0.1:9/hooks")  # nothing listens
    console.find("#webhook-description").send_keys("CRM <sync>")
    console.find("#webhook-events input[value='handoff.created']").click()
    console.find("#webhook-form button[type=submit]").click()
    secret = console.until(
        lambda: console.shown("#webhook-secret") and console.text_of("#webhook-secret code"),
        "the new endpoint's secret is not shown",
    )
    assert secret.startswith("whsec_")
    console.until(  # the list reloads after the secret is shown
        lambda: "CRM <sync>" in console.text_of("#webhooks-list"), "the endpoint is not listed"
    )

    service.intake(handoff_request())

    def failed_attempt() -> str:
        console.find("#webhooks-list button[data-act='log']").click()
        row = console.find("#webhook-log tbody tr")
        return "Connect" in row.text and row.text

    row = console.until(failed_attempt, "the delivery log shows no failed attempt")
    assert "handoff.created" in row and "Pending" in row
    assert "Not answering" in console.text_of("#webhooks-list")
    # the log that the last look reloaded may redraw under the click
    console.click("#webhook-log button[data-redeliver]", "the redeliver button is not there")
    console.until(
        lambda: console.find("#webhook-log tbody tr").get_attribute("data-status") == "pending",
        "the redelivered delivery is not pending",
    )
    assert secret not in console.driver.find_element(By.ID, "webhooks-list").text
