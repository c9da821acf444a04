"""The supervisor dashboard in headless Chromium against the real service with seeded history:
live tiles, KPIs equal to the API's, charts drawn, the per-agent table, drill-down from a figure
to its conversations. Screenshot: test-output/dashboard.png."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.slow

SUPERVISOR = "supervisor@lumen.example"


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


def test_dashboard_tiles_kpis_charts_agents_and_drill_down(service, open_console):
    service.cli("seed-history", "--days", "7", "--per-day", "40")
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
    # the same slice the page asks for: the last 7 days including today (UTC)
    today = datetime.now(timezone.utc).date()
    start = (today - timedelta(days=6)).isoformat() + "T00:00:00Z"
    end = (today + timedelta(days=1)).isoformat() + "T00:00:00Z"
    token = api(
        service,
        "/api/v1/auth/login",
        body={"email": SUPERVISOR, "password": service.passwords[SUPERVISOR]},
    )["token"]
    expected = api(service, f"/api/v1/kpis?from={start}&to={end}", token)["current"]["all"]
    assert expected["handoffs"] > 0
    shown = console.find('[data-group="all"] [data-kpi="handoffs"] button').text
    assert shown == str(expected["handoffs"])
    tiles = {
        tile.get_attribute("data-tile"): tile.find_element(By.TAG_NAME, "b").text
        for tile in driver.find_elements(By.CSS_SELECTOR, "#live-tiles .tile")
    }
    assert {"waiting", "SLA breached", "agents signed in", "handled today"} <= set(tiles)
    console.until(
        lambda: (
            all(
                driver.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth", img
                )
                for img in driver.find_elements(By.CSS_SELECTOR, "#charts img")
            )
            and len(driver.find_elements(By.CSS_SELECTOR, "#charts img")) == 5
        ),
        "the charts were not drawn",
    )
    agent_rows = driver.find_elements(By.CSS_SELECTOR, "#agents tbody tr")
    agents = api(service, f"/api/v1/kpis/agents?from={start}&to={end}", token)["agents"]
    assert len(agents) >= 2
    assert [row.text.split()[0] for row in agent_rows] == [
        a["agent_name"].split()[0] for a in agents
    ]
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
