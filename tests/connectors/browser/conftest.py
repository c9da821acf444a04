"""Fixtures for the widget tests: the web chat bench in a subprocess and headless Chromium.

Run them with `.venv-handoff/bin/pytest tests/connectors/browser` (that environment has
selenium; `.venv-bot` does not, so there these tests are not collected). Debian's `chromium`
and `chromium-driver` are used as installed; Selenium never downloads a browser or a driver.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.browser.server import ChatServer
from tests.handoff.browser.conftest import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS

if importlib.util.find_spec("selenium") is None:
    collect_ignore_glob = ["test_*.py"]

PHONE = (360, 740)
DESKTOP = (1366, 768)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    chat = ChatServer(tmp_path)
    chat.start()
    yield chat
    chat.stop()


@pytest.fixture
def browser(server: ChatServer, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`browser(viewport, profile)` opens the demo page in a new headless Chromium. The same
    `profile` name reuses the browser profile (localStorage included): a customer coming back.
    `browser.close(page)` quits that browser."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver packages are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.connectors.browser.widget_page import WidgetPage

    drivers: list[webdriver.Chrome] = []

    def open_page(viewport: tuple[int, int] = DESKTOP, profile: str = "customer") -> WidgetPage:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-{profile}'}")
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        drivers.append(driver)
        driver.get(server.url)
        # --window-size counts the (invisible) browser frame: size the page itself instead.
        frame_width, frame_height = driver.execute_script(
            "return [outerWidth - innerWidth, outerHeight - innerHeight]"
        )
        driver.set_window_size(viewport[0] + frame_width, viewport[1] + frame_height)
        return WidgetPage(driver)

    def close(page: Any) -> None:
        drivers.remove(page.driver)
        page.driver.quit()

    open_page.close = close  # type: ignore[attr-defined]
    yield open_page
    for driver in drivers:
        driver.quit()
