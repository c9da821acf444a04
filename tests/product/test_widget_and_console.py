"""The whole product in two headless Chromium windows: a customer in the web chat widget and an
agent in the console, with the real bot, action server and handoff service in between."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from handoff.notices import notice as customer_notice
from tests.connectors.browser.widget_page import Line as WidgetLine
from tests.connectors.browser.widget_page import WidgetPage
from tests.handoff.browser.console_page import SCREENSHOTS, ConsolePage
from tests.product.conftest import OpenBrowser, Product

pytestmark = pytest.mark.slow

CONSOLE = (1366, 768)  # a laptop screen
WIDGET = (400, 760)  # a narrow window: the widget's panel fills most of it
REPLY_SECONDS = 60.0  # a bot turn on a busy 2-core machine, action server included
DANA = "dana@lumen.example"
BOT = "Lumen assistant · bot"
ASK_FOR_A_PERSON = "I'd like to talk to a person please"


def widget_line(widget: WidgetPage, kind: str, part: str, since: int = 0) -> WidgetLine:
    """The first widget line of `kind` after the first `since` lines whose text contains `part`,
    once it is shown."""

    def shown(_driver: object) -> WidgetLine | None:
        lines = widget.lines()[since:]
        return next((line for line in lines if line.kind == kind and part in line.text), None)

    message = f"no {kind} line containing {part!r} in the widget"
    return WebDriverWait(widget.driver, REPLY_SECONDS).until(shown, message)


def said(console: ConsolePage) -> list[tuple[str, str]]:
    """The console's transcript as (author, text) pairs."""
    return [(line.author, line.text) for line in console.transcript()]


def test_a_web_chat_customer_is_handed_to_an_agent_and_back(
    product: Product, open_browser: OpenBrowser
) -> None:
    console = ConsolePage(open_browser(f"{product.handoff_url}/", CONSOLE))
    console.log_in_and_wait(DANA, product.passwords[DANA])
    console.mark_page()
    widget = WidgetPage(open_browser(product.widget_url, WIDGET))

    widget.open_chat()
    widget.say("hi")
    welcome = widget_line(widget, "bot", "virtual assistant")
    assert welcome.author == BOT
    widget.say(ASK_FOR_A_PERSON)
    handing_over = widget_line(widget, "bot", "handing you over to a person")
    assert handing_over.author == BOT

    [handoff_id] = console.until(console.row_ids, "the handoff is not in the queue", REPLY_SECONDS)
    assert console.page_kept(), "the handoff must arrive live, without a reload"
    assert "New" in console.row(handoff_id).text  # marked as arrived while the agent watched
    console.open(handoff_id)
    assert widget.session() in console.header()
    transcript = said(console)
    for line in ("customer", "hi"), ("bot", welcome.text), ("customer", ASK_FOR_A_PERSON):
        assert line in transcript
    assert transcript[-1] == ("bot", handing_over.text)

    console.claim()
    joined = widget_line(widget, "system", "joined the conversation")
    assert joined.text == customer_notice("joined", "en", agent="Dana", brand="Lumen Home")

    console.type_and_enter("Hi, I'm Dana. How can I help?")
    answer = widget_line(widget, "agent", "How can I help?")
    assert (answer.author, answer.text) == ("Dana · Lumen Home", "Hi, I'm Dana. How can I help?")

    widget.say("My thermostat shows 30 degrees")
    console.until(
        lambda: said(console)[-1] == ("customer", "My thermostat shows 30 degrees"),
        "the customer's line did not appear live in the console",
        REPLY_SECONDS,
    )

    seen = len(widget.lines())
    console.find("#act-return").click()
    back = widget_line(widget, "bot", "virtual assistant", since=seen)
    assert back.author == BOT
    lines = widget.lines()
    after_claim = [(line.kind, line.text) for line in lines[lines.index(joined) + 1 :]]
    assert after_claim[:3] == [
        ("agent", answer.text),
        ("customer", "My thermostat shows 30 degrees"),  # and no bot reply: the bot was paused
        ("bot", back.text),
    ]
    console.until(lambda: "With the bot" in console.header(), "the console still shows an owner")

    SCREENSHOTS.mkdir(exist_ok=True)
    console.driver.save_screenshot(str(SCREENSHOTS / "product-console.png"))
    widget.driver.save_screenshot(str(SCREENSHOTS / "product-widget.png"))
