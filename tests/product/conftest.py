"""The whole product for browser tests: the trained bot and action server (in `.venv-bot`), the
handoff service with the demo agents (in `.venv-handoff`) and headless Chromium windows.

Run with `.venv-handoff/bin/pytest tests/product` (selenium lives there); the processes are
started with harness/stack.py, which needs only the standard library and PyYAML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from harness.processes import free_port
from harness.stack import (
    action_server,
    handoff_cli,
    handoff_env,
    handoff_service,
    rasa_server,
    rules_file,
    train_model,
)
from tests.handoff.browser.conftest import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS

OpenBrowser = Callable[[str, tuple[int, int]], webdriver.Chrome]


@dataclass(frozen=True)
class Product:
    rasa_url: str
    handoff_url: str
    passwords: dict[str, str]  # the demo agents' passwords, as `seed-demo` printed them

    @property
    def widget_url(self) -> str:
        return f"{self.rasa_url}/webhooks/webchat/"  # the connector's demo page


def seed_demo_agents(env: dict[str, str]) -> dict[str, str]:
    """Seed the demo teams and agents with the CLI; their passwords by e-mail."""
    passwords = {}
    for line in handoff_cli(env, "seed-demo").splitlines():
        match line.split():
            case [_role, email, "password", password]:
                passwords[email] = password
    return passwords


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """Every process of the product on loopback, the teams open around the clock."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver packages are not installed")
    model = train_model()
    workdir = tmp_path_factory.mktemp("product")
    rasa_port, action_port, handoff_port = free_port(), free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    handoff_url = f"http://127.0.0.1:{handoff_port}"
    env = handoff_env(handoff_port, workdir, rasa_url, api_token="test-token")
    handoff_cli(env, "migrate")
    passwords = seed_demo_agents(env)
    rules = rules_file(workdir / "welcome.yml", open_now=True)
    processes = []
    try:
        for process in (
            handoff_service(env, workdir),
            action_server(action_port, workdir, handoff_url, rules),
            rasa_server(rasa_port, action_port, workdir, model),
        ):
            processes.append(process)
            process.start()
        yield Product(rasa_url, handoff_url, passwords)
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture
def open_browser(tmp_path: Path) -> Iterator[OpenBrowser]:
    """`open_browser(url, (width, height))`: a new headless Chromium with a fresh profile whose
    page (not window) has that size."""
    drivers: list[webdriver.Chrome] = []

    def open_page(url: str, viewport: tuple[int, int]) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-{len(drivers)}'}")
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        drivers.append(driver)
        driver.get(url)
        # --window-size counts the (invisible) browser frame: size the page itself instead.
        frame_width, frame_height = driver.execute_script(
            "return [outerWidth - innerWidth, outerHeight - innerHeight]"
        )
        driver.set_window_size(viewport[0] + frame_width, viewport[1] + frame_height)
        return driver

    yield open_page
    for driver in drivers:
        driver.quit()
