"""The agents' queue in the console, in headless Chromium against the real service: presence,
an automatically assigned arrival with its notification and unread count (kept over a
reload), the shift handover with its note, and the approval list for a trainee's reply."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from selenium.webdriver.support.ui import Select

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
KIM = "kim@lumen.example"
SUPERVISOR = "supervisor@lumen.example"
OpenConsole = Callable[[], ConsolePage]


def call(service: HandoffService, method: str, path: str, token: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{service.url}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def token_of(service: HandoffService, email: str) -> str:
    request = urllib.request.Request(
        f"{service.url}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": service.passwords[email]}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["token"]


def agent_id(service: HandoffService, token: str, email: str) -> str:
    agents = call(service, "GET", "/agents", token)["agents"]
    return next(agent["id"] for agent in agents if agent["email"] == email)


def test_presence_auto_assigned_arrival_notification_and_handover(
    service: HandoffService, open_console: OpenConsole
) -> None:
    boss = token_of(service, SUPERVISOR)
    call(service, "POST", "/teams/billing/queue-mode", boss, {"mode": "auto"})
    dana = open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    presence = dana.until(lambda: dana.find("#presence"), "no presence menu")
    dana.until(lambda: presence.get_attribute("data-presence") == "offline", "not offline")
    Select(presence).select_by_value("online")
    dana.until(lambda: presence.get_attribute("data-presence") == "online", "not online")
    dana.screenshot("queue-presence-online")

    arrived = service.intake(handoff_request())
    toast = dana.until(lambda: dana.find("#toasts .toast"), "no notification shown")
    assert "Assigned to you" in toast.text
    dana.show_tab("mine")
    row = dana.row(arrived["id"])
    dana.until(lambda: row.find_element("css selector", ".unread").text == "1", "no unread badge")
    assert dana.driver.title.startswith("1 unread · ")
    dana.screenshot("queue-assigned-notification")

    dana.driver.refresh()  # the unread state survives a reload
    dana.until(lambda: dana.connection() == "Live", "live updates did not reconnect")
    dana.show_tab("mine")
    dana.until(lambda: dana.driver.title.startswith("1 unread · "), "unread lost on reload")
    badge = dana.until(  # read in one step: a live redraw can replace the element
        lambda: dana.text_of(f"{dana.row_css(arrived['id'])} .unread"), "badge lost"
    )
    assert badge == "1"
    dana.open(arrived["id"])
    dana.until(lambda: "unread" not in dana.driver.title, "reading it did not clear it")

    kim = open_console()
    kim.log_in_and_wait(KIM, service.passwords[KIM])
    dana.find("#end-shift").click()
    dana.until(lambda: dana.shown("#handover-dialog"), "no handover dialog")
    dana.until(lambda: len(Select(dana.find("#handover-to")).options) > 1, "no teammates")
    Select(dana.find("#handover-to")).select_by_visible_text("Kim")
    dana.find("#handover-note").send_keys("Refund approved; tell her it takes 3 days.")
    dana.screenshot("queue-handover-dialog")
    dana.find("#handover-submit").click()
    dana.until(lambda: not dana.shown("#handover-dialog"), "the handover did not finish")
    dana.until(lambda: dana.find("#presence").get_attribute("data-presence") == "offline", "on")

    kim.until(lambda: kim.find("#toasts .toast"), "Kim was not notified")
    kim.show_tab("mine")
    kim.open(arrived["id"])
    first = kim.until(lambda: kim.find("#transcript li:first-child.line-handover"), "no note")
    assert "Handover from Dana" in first.text
    assert "Refund approved; tell her it takes 3 days." in first.text
    kim.screenshot("queue-handover-note")


def test_a_trainees_reply_waits_in_the_approval_list(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: OpenConsole
) -> None:
    boss = token_of(service, SUPERVISOR)
    dana_token = token_of(service, DANA)
    dana_id = agent_id(service, boss, DANA)
    call(service, "POST", f"/agents/{dana_id}/queue", boss, {"in_training": True})
    conversation = service.intake(handoff_request())
    call(service, "POST", f"/conversations/{conversation['id']}/claim", dana_token)

    dana = open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    dana.show_tab("mine")
    dana.open(conversation["id"])
    dana.type_and_enter("I refunded you twice")
    pending = dana.until(lambda: dana.find("#transcript .line-pending"), "no pending line")
    assert "Waiting for approval" in pending.text and "not sent" in pending.text
    assert "I refunded you twice" not in delivery.texts()
    dana.screenshot("queue-pending-reply")

    boss_console = open_console()
    boss_console.log_in_and_wait(SUPERVISOR, service.passwords[SUPERVISOR])
    button = boss_console.until(lambda: boss_console.find("#approvals-button"), "no button")
    boss_console.until(lambda: button.text == "Approvals (1)", "the reply is not listed")
    button.click()
    item = boss_console.until(lambda: boss_console.find("#approvals-list .approval"), "no item")
    assert "Dana" in item.text
    text = item.find_element("css selector", ".approval-text")
    text.clear()
    text.send_keys("I have refunded the double charge.")
    boss_console.screenshot("queue-approval-list")
    item.find_element("css selector", ".approve").click()
    boss_console.until(lambda: button.text == "Approvals (0)", "the list did not empty")

    dana.until(lambda: "I have refunded the double charge." in delivery.texts(), "not delivered")
    dana.until(
        lambda: any(
            line.text == "I have refunded the double charge." for line in dana.transcript()
        ),
        "the approved line is not in the transcript",
    )
    dana.until(lambda: not dana.shown("#transcript .line-pending"), "still marked pending")


def test_the_live_view_counts_down_each_waiting_conversations_sla(service, open_console):
    relaxed = service.intake(handoff_request())
    urgent = service.intake(
        handoff_request(priority={"level": 1, "name": "urgent", "first_response_minutes": 2})
    )
    boss = open_console()
    boss.log_in_and_wait(SUPERVISOR, service.passwords[SUPERVISOR])
    boss.until(lambda: boss.find("#live-button"), "no live view button").click()

    def waiting() -> list[str]:
        rows = boss.driver.find_elements("css selector", "#live-waiting tr[data-id]")
        return [row.get_attribute("data-id") for row in rows]

    boss.until(lambda: len(waiting()) == 2, "the waiting conversations are not listed")
    assert waiting() == [urgent["id"], relaxed["id"]]  # least time left first
    cell = f'#live-waiting tr[data-id="{urgent["id"]}"] .sla-left'
    first = boss.text_of(cell)
    assert first.count(":") == 1 and not first.startswith("overdue")
    boss.until(lambda: boss.text_of(cell) != first, "the time left does not count down")
    boss.find('#live-waiting button[data-sort="waited"]').click()
    assert waiting() == [relaxed["id"], urgent["id"]]  # longest waiting first
    boss.screenshot("queue-live-waiting")
