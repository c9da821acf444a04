"""The satisfaction survey as the customer answers it: scores typed or tapped, wrong ones re-asked
with a hint, the optional comment, and the answer reported to the handoff service."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.handoff_intake import HandoffSettings
from actions.csat import ActionCsatSubmit, ValidateCsatForm, read_score, report_answer
from contracts.survey import ANSWER_INTENT, SCORE_ENTITY, answer_payload


def survey_tracker(
    text: str, intent: str = "inform", requested_slot: str | None = "csat_score", **slots: Any
) -> Tracker:
    return Tracker(
        sender_id="wa-4915123456789",
        slots={"requested_slot": requested_slot, "csat_scale": "csat_5", **slots},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.4}},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "csat_form"},
        latest_action_name="action_listen",
    )


@pytest.mark.parametrize(
    ("typed", "scale", "score"),
    [
        ("4", (1, 5), 4),
        ("5 - Very happy", (1, 5), 5),
        ("I'd say four stars", (1, 5), 4),
        ("3/5", (1, 5), 3),
        ("0", (1, 5), None),
        ("9", (1, 5), None),
        ("great thanks", (1, 5), None),
        ("10", (0, 10), 10),
        ("zero", (0, 10), 0),
        ("11", (0, 10), None),
    ],
)
def test_scores_are_read_from_what_customers_type(
    typed: str, scale: tuple[int, int], score: int | None
) -> None:
    assert read_score(typed, scale) == score


async def test_a_tapped_score_fills_the_slot_without_a_hint() -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    tracker = survey_tracker("4")
    extracted = await form.extract_csat_score(dispatcher, tracker, {})
    assert form.validate_csat_score(extracted["csat_score"], dispatcher, tracker, {}) == {
        "csat_score": 4
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["it was fine I guess", "7", "0"])
async def test_a_score_off_the_scale_is_re_asked_with_a_hint(typed: str) -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    tracker = survey_tracker(typed)
    extracted = await form.extract_csat_score(dispatcher, tracker, {})
    assert form.validate_csat_score(extracted["csat_score"], dispatcher, tracker, {}) == {
        "csat_score": None
    }
    assert [m["response"] for m in dispatcher.messages] == ["utter_csat_score_hint"]


async def test_nps_takes_zero_to_ten() -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    tracker = survey_tracker("9", csat_scale="nps_10")
    assert form.validate_csat_score("9", dispatcher, tracker, {}) == {"csat_score": 9}
    assert form.validate_csat_score("12", dispatcher, tracker, {}) == {"csat_score": None}


async def test_a_score_tapped_on_the_template_counts_though_the_form_asked_nothing() -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    tapped = answer_payload(4)
    tracker = survey_tracker(tapped, intent=ANSWER_INTENT, requested_slot=None)
    tracker.latest_message["entities"] = [{"entity": SCORE_ENTITY, "value": 4}]
    extracted = await form.extract_csat_score(dispatcher, tracker, {})
    assert form.validate_csat_score(extracted["csat_score"], dispatcher, tracker, {}) == {
        "csat_score": 4
    }
    assert await form.extract_csat_comment(dispatcher, tracker, {}) == {}  # asked next
    assert dispatcher.messages == []


async def test_a_request_for_a_person_is_not_taken_as_an_answer() -> None:
    tracker = survey_tracker("can I talk to someone", intent="request_human")
    assert await ValidateCsatForm().extract_csat_score(CollectingDispatcher(), tracker, {}) == {}


async def test_nothing_is_taken_for_a_question_that_was_not_asked() -> None:
    tracker = survey_tracker("4", requested_slot="csat_comment")
    assert await ValidateCsatForm().extract_csat_score(CollectingDispatcher(), tracker, {}) == {}


@pytest.mark.parametrize(
    ("typed", "intent", "stored"),
    [
        (
            "The agent fixed my camera in five minutes",
            "praise",
            "The agent fixed my camera in five minutes",
        ),
        ("/deny", "deny", ""),
        ("no thanks", "deny", ""),
        ("skip", "nlu_fallback", ""),
        ("x" * 1500, "nlu_fallback", "x" * 1000),
    ],
)
async def test_the_comment_is_optional(typed: str, intent: str, stored: str) -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    tracker = survey_tracker(typed, intent=intent, requested_slot="csat_comment", csat_score=4)
    extracted = await form.extract_csat_comment(dispatcher, tracker, {})
    assert form.validate_csat_comment(extracted["csat_comment"], dispatcher, tracker, {}) == {
        "csat_comment": stored
    }


async def test_the_comment_is_not_asked_when_the_policy_says_no() -> None:
    form, dispatcher = ValidateCsatForm(), CollectingDispatcher()
    slots = ["csat_score", "csat_comment"]
    asked = await form.required_slots(slots, dispatcher, survey_tracker("4"), {})
    skipped = await form.required_slots(
        slots, dispatcher, survey_tracker("4", csat_comment_wanted=False), {}
    )
    assert (asked, skipped) == (slots, ["csat_score"])


@dataclass
class Stub:
    received: list[Any]
    statuses: list[int]  # answered in order before the 200s
    settings: HandoffSettings


@pytest.fixture
async def handoff_stub() -> AsyncIterator[Stub]:
    """A stand-in for the handoff service's answers endpoint that records what it got."""
    received: list[Any] = []
    statuses: list[int] = []

    async def answers(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        status = statuses.pop(0) if statuses else 200
        return web.json_response({"status": "answered"}, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/csat/answers", answers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Stub(received, statuses, HandoffSettings(url=f"http://127.0.0.1:{port}", api_token="t0k"))
    await runner.cleanup()


async def test_the_answer_is_reported_and_the_survey_slots_cleared(handoff_stub: Stub) -> None:
    received, settings = handoff_stub.received, handoff_stub.settings
    tracker = survey_tracker(
        "quick and friendly", requested_slot=None, csat_score=4.0, csat_comment="quick and friendly"
    )
    events = await ActionCsatSubmit(settings).run(CollectingDispatcher(), tracker, {})
    assert received == [
        (
            "Bearer t0k",
            {"conversation_id": "wa-4915123456789", "score": 4, "comment": "quick and friendly"},
        )
    ]
    assert SlotSet("csat_score", None) in events and SlotSet("csat_scale", None) in events


async def test_a_skipped_comment_is_reported_as_none(handoff_stub: Stub) -> None:
    received, settings = handoff_stub.received, handoff_stub.settings
    tracker = survey_tracker("/deny", requested_slot=None, csat_score=2.0, csat_comment="")
    await ActionCsatSubmit(settings).run(CollectingDispatcher(), tracker, {})
    assert received[0][1]["comment"] is None


@pytest.mark.parametrize(("statuses", "stored", "attempts"), [([503], True, 2), ([409], False, 1)])
async def test_a_failing_service_is_retried_a_refusal_is_not(
    handoff_stub: Stub, statuses: list[int], stored: bool, attempts: int
) -> None:
    handoff_stub.statuses[:] = statuses
    received, settings = handoff_stub.received, handoff_stub.settings
    body = {"conversation_id": "wa-1", "score": 5, "comment": None}
    assert await report_answer(settings, body) is stored
    assert len(received) == attempts
