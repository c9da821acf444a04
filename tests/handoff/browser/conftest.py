"""Fixtures for the console tests: the real handoff service, a real deliver endpoint and
headless Chromium.

Debian's `chromium` and `chromium-driver` packages are used as installed; Selenium never
downloads a browser or a driver here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService

from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.servers import DeliveryEndpoint, HandoffService

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = (1366, 768)  # a laptop screen; screenshots have this size


@pytest.fixture
def delivery() -> Iterator[DeliveryEndpoint]:
    endpoint = DeliveryEndpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def service(tmp_path: Path, delivery: DeliveryEndpoint) -> Iterator[HandoffService]:
    handoff = HandoffService(tmp_path, delivery.url)
    handoff.seed_demo()
    handoff.start()
    yield handoff
    handoff.stop()


@pytest.fixture
def open_console(service: HandoffService, tmp_path: Path) -> Iterator[Callable[[], ConsolePage]]:
    """Opens the console in a new headless Chromium with a fresh profile (a second agent's
    browser is a second call)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver packages are not installed")
    drivers: list[webdriver.Chrome] = []

    def open_browser() -> ConsolePage:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-{len(drivers)}'}")
        driver = webdriver.Chrome(
            options=options, service=DriverService(executable_path=str(CHROMEDRIVER))
        )
        drivers.append(driver)
        driver.get(f"{service.url}/")
        # --window-size counts the (invisible) browser frame: size the page itself instead.
        frame_width, frame_height = driver.execute_script(
            "return [outerWidth - innerWidth, outerHeight - innerHeight]"
        )
        driver.set_window_size(VIEWPORT[0] + frame_width, VIEWPORT[1] + frame_height)
        return ConsolePage(driver)

    yield open_browser
    for driver in drivers:
        driver.quit()
