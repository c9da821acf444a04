"""The chat widget as a customer uses it, for Selenium."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "test-output"
WAIT_SECONDS = 20.0  # generous bound for a busy machine; waits end as soon as the page is ready


@dataclass(frozen=True)
class Line:
    kind: str  # customer | bot | agent | system
    author: str  # the label the customer sees, e.g. "Lumen assistant · bot"
    text: str
    pending: bool


class WidgetPage:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def wait(self, condition, what: str, seconds: float = WAIT_SECONDS):  # type: ignore[no-untyped-def]
        return WebDriverWait(self.driver, seconds).until(
            lambda _: condition(), message=f"waiting for {what}"
        )

    def open_chat(self) -> None:
        self.driver.find_element(By.CSS_SELECTOR, ".lc-launcher").click()
        self.wait(lambda: self.panel.is_displayed(), "the chat panel")

    @property
    def panel(self):  # type: ignore[no-untyped-def]
        return self.driver.find_element(By.CSS_SELECTOR, ".lc-panel")

    def type(self, text: str) -> None:
        """Type into the message box without sending."""
        self.driver.find_element(By.CSS_SELECTOR, "#lc-input").send_keys(text)

    def say(self, text: str) -> None:
        self.type(text)
        self.type(Keys.ENTER)

    def press(self, title: str) -> None:
        buttons = self.driver.find_elements(By.CSS_SELECTOR, ".lc-buttons .lc-button")
        next(button for button in buttons if button.text == title).click()

    def talk_to_a_person(self) -> None:
        self.driver.find_element(By.CSS_SELECTOR, ".lc-human").click()

    def keyboard_to_launcher(self) -> None:
        """Tab through the page until the chat launcher has the focus."""
        body = self.driver.find_element(By.TAG_NAME, "body")
        body.click()
        for _ in range(20):
            if self.focused_class() == "lc-launcher":
                return
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
        raise AssertionError("the launcher cannot be reached with Tab")

    def press_key(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def focused_id(self) -> str:
        return self.driver.execute_script("return document.activeElement.id")

    def focused_class(self) -> str:
        return self.driver.execute_script("return document.activeElement.className")

    def log_attributes(self) -> dict[str, str]:
        log = self.driver.find_element(By.CSS_SELECTOR, ".lc-log")
        return {name: log.get_attribute(name) for name in ("role", "aria-live")}

    def lines(self) -> list[Line]:
        return [
            Line(*row)
            for row in self.driver.execute_script(
                """return Array.from(document.querySelectorAll('.lc-log > li:not(.lc-intro)'))
                  .map(li => [li.className.match(/lc-msg--(\\w+)/)[1],
                              (li.querySelector('.lc-author') || {}).textContent || '',
                              li.querySelector('.lc-bubble, .lc-notice').textContent,
                              li.classList.contains('lc-msg--pending')]);"""
            )
        ]

    def wait_for_line(
        self, kind: str, text: str, author: str | None = None, seconds: float = WAIT_SECONDS
    ) -> Line:
        def found() -> Line | None:
            for line in self.lines():
                if line.kind == kind and line.text == text and author in (None, line.author):
                    return line if not line.pending else None
            return None

        return self.wait(found, f"{kind} line {text!r}", seconds)

    def button_titles(self) -> list[str]:
        return [
            b.text for b in self.driver.find_elements(By.CSS_SELECTOR, ".lc-buttons .lc-button")
        ]

    def status(self) -> str:
        bar = self.driver.find_element(By.CSS_SELECTOR, ".lc-status")
        return bar.text if bar.is_displayed() else ""

    def session(self) -> str:
        return self.driver.execute_script("return localStorage.getItem('lumenChat.session')")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"webchat-{name}.png"
        self.driver.save_screenshot(str(path))
        return path
