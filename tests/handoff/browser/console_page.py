"""The agent console as an agent sees it: what is on screen and what an agent does, by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output"
WAIT_SECONDS = 15.0  # upper bound for the page to show something; it normally takes ms
T = TypeVar("T")

# One transcript line as rendered: who wrote it (data-author), its header and text, its footer.
READ_TRANSCRIPT = """
return [...document.querySelectorAll('#transcript li[data-author]')].map((li) => ({
  author: li.dataset.author,
  head: li.querySelector('.line-head')?.innerText ?? '',
  text: li.querySelector('.bubble')?.innerText ?? '',
  foot: li.querySelector('.line-foot')?.innerText ?? '',
  align: getComputedStyle(li).alignSelf,
  has_robot: li.querySelector('svg.robot') !== null,
}));
"""


@dataclass(frozen=True)
class Line:
    author: str  # customer, bot, agent, system or note
    head: str
    text: str
    foot: str
    align: str
    has_robot: bool


class ConsolePage:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def until(self, condition: Callable[[], T], message: str, seconds: float = WAIT_SECONDS) -> T:
        """`condition()` once it is truthy; fails with `message` after `seconds`."""
        wait = WebDriverWait(
            self.driver,
            seconds,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )
        return wait.until(lambda _driver: condition(), message)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css: str, message: str) -> None:
        """Find `css` and click it; again when a redraw replaced the element between the two
        (lists and logs redraw live, or when a load that an earlier click started ends)."""

        def once() -> bool:
            try:
                self.find(css).click()
            except StaleElementReferenceException:
                return False
            return True

        self.until(once, message)

    def text_of(self, css: str) -> str:
        return self.find(css).text

    def shown(self, css: str) -> bool:
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return bool(found) and found[0].is_displayed()

    # --- session ---

    def log_in(self, email: str, password: str) -> None:
        self.until(lambda: self.shown("#login-form"), "the login form is not shown")
        for field, value in (("#login-email", email), ("#login-password", password)):
            self.find(field).clear()
            self.find(field).send_keys(value)
        self.find("#login-form button[type=submit]").click()

    def log_in_and_wait(self, email: str, password: str) -> None:
        self.log_in(email, password)
        self.until(lambda: self.shown("#app"), f"{email} did not get to the queue")
        self.until(lambda: self.connection() == "Live", "live updates did not connect")

    def connection(self) -> str:
        return self.text_of("#connection")

    # --- queue ---

    @staticmethod
    def row_css(handoff_id: str) -> str:
        return f'#queue-list li[data-id="{handoff_id}"]'

    def row(self, handoff_id: str) -> WebElement:
        return self.until(
            lambda: self.find(self.row_css(handoff_id)),
            f"conversation {handoff_id} is not in the list",
        )

    def row_text(self, handoff_id: str) -> str:
        """The row's text, read in one script: a live redraw can replace the row between a
        lookup and a read."""
        script = "return document.querySelector(`#queue-list li[data-id='${arguments[0]}']`)"
        return self.until(
            lambda: self.driver.execute_script(f"{script}?.innerText", handoff_id),
            f"conversation {handoff_id} is not in the list",
        )

    def row_ids(self) -> list[str]:
        """The listed conversations in order, read in one script (see `row_text`)."""
        ids: list[str] = self.driver.execute_script(
            "return [...document.querySelectorAll('#queue-list li[data-id]')]"
            ".map((row) => row.dataset.id)"
        )
        return ids

    def selected_row(self) -> str | None:
        rows = self.driver.find_elements(By.CSS_SELECTOR, '#queue-list li[aria-selected="true"]')
        return rows[0].get_attribute("data-id") if rows else None

    def show_tab(self, name: str) -> None:
        self.find(f'.tab[data-view="{name}"]').click()

    # --- conversation ---

    def open(self, handoff_id: str) -> None:
        """Click the conversation's row (the list redraws live: SLA countdowns)."""
        self.click(self.row_css(handoff_id), f"conversation {handoff_id} could not be opened")
        self.wait_for_transcript()

    def wait_for_transcript(self) -> list[Line]:
        return self.until(self.transcript, "the transcript did not load")

    def transcript(self) -> list[Line]:
        return [Line(**line) for line in self.driver.execute_script(READ_TRANSCRIPT)]

    def header(self) -> str:
        return self.text_of(".conv-header")

    def customer_activity(self) -> str:
        """What the header says about the customer's presence ("" when nothing is known)."""
        found = self.driver.find_elements(By.CSS_SELECTOR, "#conv-meta .customer-activity")
        return found[0].text if found else ""

    def triage(self) -> str:
        return self.text_of("#triage")

    def action_buttons(self) -> list[str]:
        """The labels of the action buttons on screen, without their shortcut keys."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll('.conv-actions button')]"
            ".filter((button) => button.offsetParent !== null)"
            ".map((button) => button.firstChild.textContent.trim())"
        )

    def claim(self) -> None:
        """Claim the open conversation; done once the reply box has the focus. (The live
        event can unlock the box before the claim's own answer moves the focus there: keys
        typed in between would land on the page and act as shortcuts.)"""
        self.find("#act-claim").click()
        self.until(lambda: self.find("#composer-text").is_enabled(), "the reply box stayed locked")
        self.until(lambda: self.focused_id() == "composer-text", "the reply box got no focus")

    def reply_box(self) -> WebElement:
        return self.find("#composer-text")

    def type_and_enter(self, text: str) -> None:
        """Type into the focused text box and press Enter, as an agent does."""
        self.press(text)
        self.press(Keys.ENTER)

    def new_line(self) -> None:
        """Shift+Enter: a new line in the text box instead of sending."""
        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(
            Keys.SHIFT
        ).perform()

    def lock_banner(self) -> str:
        return self.text_of("#conv-lock") if self.shown("#conv-lock") else ""

    def error(self) -> str:
        return self.text_of("#conv-error") if self.shown("#conv-error") else ""

    # --- keyboard and pictures ---

    def press(self, keys: str) -> None:
        ActionChains(self.driver).send_keys(keys).perform()

    def focused_id(self) -> str:
        return self.driver.execute_script("return document.activeElement.id || ''")

    def mark_page(self) -> None:
        """Leave a mark in the page's memory: it survives only if the page is never reloaded."""
        self.driver.execute_script("window.consoleTestMark = true")

    def page_kept(self) -> bool:
        return bool(self.driver.execute_script("return window.consoleTestMark === true"))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"console-{name}.png"
        self.driver.save_screenshot(str(path))
        return path
