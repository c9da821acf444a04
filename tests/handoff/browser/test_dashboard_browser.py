"""The supervisor dashboard in headless Chromium against the real service with seeded history:
live tiles, KPIs equal to the API's, charts drawn, the per-agent table, drill-down from a figure
to its conversations, acting from an alert (open, route, close). Screenshot:
test-output/dashboard.png."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from harness.handoff_data import handoff_body
from harness.handoff_store import move_into_the_past
from harness.processes import wait_for

pytestmark = pytest.mark.slow

SUPERVISOR = "supervisor@lumen.example"
DANA = "dana@lumen.example"
KIM = "kim@lumen.example"


def api(service, path: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        service.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def open_dashboard(service, open_console):
    """The dashboard signed in as the demo supervisor, loaded."""
    console = open_console()
    driver = console.driver
    driver.get(f"{service.url}/console/dashboard.html")
    console.until(lambda: console.find("#login-email").is_displayed(), "no sign-in form")
    console.find("#login-email").send_keys(SUPERVISOR)
    console.find("#login-password").send_keys(service.passwords[SUPERVISOR])
    console.find("#login-form button").click()
    console.until(
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        "the dashboard did not load",
        seconds=60,
    )
    return console


def supervisor_token(service) -> str:
    body = {"email": SUPERVISOR, "password": service.passwords[SUPERVISOR]}
    return api(service, "/api/v1/auth/login", body=body)["token"]


def test_dashboard_tiles_kpis_charts_agents_and_drill_down(service, open_console):
    service.cli("seed-history", "--days", "7", "--per-day", "40")
    # Dana online in her open console (it keeps her online), Kim away; both are in billing
    dana = open_console()
    dana.log_in_and_wait(DANA, service.passwords[DANA])
    presence = dana.until(lambda: dana.find("#presence"), "no presence menu")
    dana.until(lambda: presence.get_attribute("data-presence") == "offline", "not loaded")
    Select(presence).select_by_value("online")
    dana.until(lambda: presence.get_attribute("data-presence") == "online", "not online")
    kim = api(
        service, "/api/v1/auth/login", body={"email": KIM, "password": service.passwords[KIM]}
    )
    api(service, "/api/v1/me/presence", kim["token"], {"presence": "away"})
    console = open_dashboard(service, open_console)
    driver = console.driver
    # the same slice the page asks for: the last 7 days including today (UTC)
    today = datetime.now(timezone.utc).date()
    start = (today - timedelta(days=6)).isoformat() + "T00:00:00Z"
    end = (today + timedelta(days=1)).isoformat() + "T00:00:00Z"
    token = supervisor_token(service)
    expected = api(service, f"/api/v1/kpis?from={start}&to={end}", token)["current"]["all"]
    assert expected["handoffs"] > 0
    shown = console.find('[data-group="all"] [data-kpi="handoffs"] button').text
    assert shown == str(expected["handoffs"])
    tiles = {
        tile.get_attribute("data-tile"): tile.find_element(By.TAG_NAME, "b").text
        for tile in driver.find_elements(By.CSS_SELECTOR, "#live-tiles .tile")
    }
    assert {"waiting", "SLA breached", "handled today"} <= set(tiles)
    assert (tiles["agents online"], tiles["agents away"]) == ("1", "1")
    teams = {
        row.find_element(By.TAG_NAME, "td").text: [
            td.text for td in row.find_elements(By.TAG_NAME, "td")
        ]
        for row in driver.find_elements(By.CSS_SELECTOR, "#live-teams tbody tr")
    }
    assert teams["billing"][-2:] == ["1", "1"]  # its Online and Away columns
    console.until(
        lambda: (
            all(
                driver.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth", img
                )
                for img in driver.find_elements(By.CSS_SELECTOR, "#charts img")
            )
            and len(driver.find_elements(By.CSS_SELECTOR, "#charts img")) == 6
        ),
        "the charts were not drawn",
    )
    assert console.find('#charts img[data-chart="csat"]').size["width"] > 0
    headers = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#agents thead th")]
    assert {"CSAT (1-5)", "Satisfied", "NPS"} <= set(headers)
    agent_rows = driver.find_elements(By.CSS_SELECTOR, "#agents tbody tr")
    agents = api(service, f"/api/v1/kpis/agents?from={start}&to={end}", token)["agents"]
    assert len(agents) >= 2
    assert [row.text.split()[0] for row in agent_rows] == [
        a["agent_name"].split()[0] for a in agents
    ]
    # the seeded surveys and shifts: satisfaction and idle time on a first start
    assert sum(a["csat_responses"] for a in agents) > 0
    assert all(a["online_seconds"] > a["idle_seconds"] > 0 for a in agents)
    assert expected["agent_idle_seconds"] > 0
    idle = console.find('[data-group="all"] [data-kpi="agent_idle_seconds"] span:nth-child(2)')
    assert idle.text.endswith((" h", " d", " min"))
    console.find('[data-group="all"] [data-kpi="handoffs"] button').click()
    console.until(lambda: console.find("#drill-panel").is_displayed(), "no drill-down")
    rows = driver.find_elements(By.CSS_SELECTOR, "#drill tbody tr")
    assert len(rows) == min(expected["handoffs"], 500)
    assert console.find("#drill-title").text.endswith(f"{len(rows)} conversation(s)")
    assert rows[0].text.startswith("demo-history-")
    driver.execute_script("window.scrollTo(0, 0)")
    console.screenshot("dashboard")
    console.find("#charts").location_once_scrolled_into_view  # noqa: B018 (scrolls)
    console.screenshot("dashboard-charts")


def open_alerts(service, token: str) -> list[dict]:
    return api(service, "/api/v1/alerts?status=open", token)["alerts"]


def breached_alert(service) -> tuple[list[str], str]:
    """Two billing conversations past their SLA behind one open alert (and one within it);
    their ids and a supervisor's token."""
    late = [service.intake(handoff_body())["id"] for _ in range(2)]
    service.intake(handoff_body())  # waiting too, but within its SLA
    # Two days of waiting for the first two, then one alert round at start and none after it
    # (a later round would clear the alert once its conversations have moved or closed).
    service.stop()
    for pk in late:
        move_into_the_past(service.workdir, pk, timedelta(days=2))
    service.env["ALERT_CHECK_SECONDS"] = "86400"
    service.start()
    token = supervisor_token(service)
    (alert,) = wait_for(lambda: open_alerts(service, token), 30, "an alert from the first round")
    assert (alert["kind"], alert["team"], set(alert["conversations"])) == (
        "sla_breached",
        "billing",
        set(late),
    )
    return late, token


def show_alert_conversations(console) -> list:
    console.find('#alerts li[data-alert="sla_breached"] button').click()
    console.until(lambda: console.find("#alert-panel").is_displayed(), "no alert conversations")
    return console.driver.find_elements(By.CSS_SELECTOR, "#alert-conversations tbody tr")


def test_act_from_an_alert_moves_its_conversations_to_a_team(service, open_console):
    late, token = breached_alert(service)
    console = open_dashboard(service, open_console)
    rows = show_alert_conversations(console)
    assert len(rows) == 2 and all("billing" in row.text for row in rows)
    Select(console.find("#alert-team")).select_by_value("devices")
    console.find("#alert-move button").click()
    console.until(
        lambda: console.find("#alert-status").text == "Moved 2 conversation(s) to Device support.",
        "the move was not confirmed",
    )
    console.screenshot("dashboard-alert")
    teams = [api(service, f"/api/v1/conversations/{pk}", token)["team"] for pk in late]
    assert teams == ["devices", "devices"]
    (logged, *_) = api(service, "/api/v1/bulk-actions", token)["bulk_actions"]
    assert list(logged["filter"]) == ["alert"] and logged["undoable"]


def test_act_from_an_alert_opens_a_conversation_and_closes_them_all(service, open_console):
    late, token = breached_alert(service)
    console = open_dashboard(service, open_console)
    driver = console.driver
    show_alert_conversations(console)
    link = console.find("#alert-conversations tbody tr a")
    opened = next(pk for pk in late if link.get_attribute("href").endswith(f"={pk}"))
    customer = api(service, f"/api/v1/conversations/{opened}", token)["customer"]
    link.click()  # to the agent console, signed in as the same supervisor
    console.until(lambda: console.shown("#conversation"), "the console did not open it")
    expected = customer["name"] or f"Customer {customer['id']}"
    assert console.text_of("#conv-customer") == expected
    assert driver.execute_script("return location.hash") == ""  # a reload shows the queue
    driver.back()
    console.until(
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        "the dashboard did not load again",
        seconds=60,
    )
    assert len(show_alert_conversations(console)) == 2
    console.find("#alert-close").click()
    console.until(lambda: console.shown("#alert-close-confirm"), "no confirmation asked")
    console.find("#alert-close-yes").click()
    console.until(
        lambda: console.find("#alert-status").text == "Closed 2 conversation(s).",
        "the closing was not confirmed",
    )
    assert driver.find_elements(By.CSS_SELECTOR, "#alert-conversations tbody tr") == []
    statuses = [api(service, f"/api/v1/conversations/{pk}", token)["status"] for pk in late]
    assert statuses == ["resolved", "resolved"]
    (logged, *_) = api(service, "/api/v1/bulk-actions", token)["bulk_actions"]
    assert (logged["action"], logged["count"], logged["undoable"]) == ("resolve", 2, False)
