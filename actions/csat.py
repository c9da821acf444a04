"""The satisfaction survey the handoff service starts after a person resolved the conversation
(bot/domain/csat.yml, data/rules/csat.yml): the score is read from a button or typed text and
re-asked with a hint when it is not a number on the scale, or taken from a button of the
survey's channel template (`contracts/survey.py`), which starts the form itself; the comment is
optional. The answer is then reported to the handoff service (`POST /api/v1/csat/answers`,
docs/integrations.md)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.clients.handoff_intake import REQUEST_TIMEOUT_SECONDS, HandoffSettings
from actions.triage import latest_turn
from contracts.survey import ANSWER_INTENT, SCORE_ENTITY
from outbound.retry import with_retries

logger = logging.getLogger(__name__)

ANSWERS_PATH = "/api/v1/csat/answers"
SCALES = {"csat_5": (1, 5), "nps_10": (0, 10)}
DEFAULT_SCALE = "csat_5"
MAX_COMMENT = 1000  # what the handoff service stores
NO_COMMENT = ""  # fills the slot so the form ends; reported as no comment
SURVEY_SLOTS = ("csat_scale", "csat_comment_wanted", "csat_score", "csat_comment")
SUBMIT_ATTEMPTS = 3
RETRY_SECONDS = 1.0
# Intents that are not an answer to the survey: the form lets the other policies act.
NOT_AN_ANSWER = frozenset({"request_human"})

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBER_WORDS = {word: value for value, word in enumerate(_WORDS)}
_NUMBER = re.compile(r"\b(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_NO_COMMENT = re.compile(
    r"^\s*(?:no+|nope|nah|skip|nothing|none|no thanks?|no,? that'?s (?:all|it)|that'?s (?:all|it)|"
    r"all good|-)\s*[.!]*\s*$",
    re.IGNORECASE,
)


def scale_of(tracker: Tracker) -> tuple[int, int]:
    return SCALES.get(tracker.get_slot("csat_scale") or DEFAULT_SCALE, SCALES[DEFAULT_SCALE])


def read_score(text: str, scale: tuple[int, int]) -> int | None:
    """The first number in `text` (digits or a word, "4", "4/5", "four stars") when it is on
    the scale; None otherwise."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    word = match.group(1).lower()
    value = _NUMBER_WORDS[word] if word in _NUMBER_WORDS else int(word)
    low, high = scale
    return value if low <= value <= high else None


class ValidateCsatForm(FormValidationAction):
    """Fills and checks the slots of `csat_form`."""

    def name(self) -> str:
        return "validate_csat_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("csat_comment_wanted") is False:
            return [slot for slot in domain_slots if slot != "csat_comment"]
        return domain_slots

    async def extract_csat_score(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Whatever answers the score question goes to validation (a wrong one is re-asked); a
        score tapped on the survey's template counts whenever it comes (it starts the form)."""
        if latest_turn(tracker)[1] == ANSWER_INTENT:
            tapped = next(tracker.get_latest_entity_values(SCORE_ENTITY), None)
            return {} if tapped is None else {"csat_score": str(tapped)}
        return self._answer_to(tracker, "csat_score")

    async def extract_csat_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._answer_to(tracker, "csat_comment")

    def validate_csat_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        score = read_score(str(value), scale_of(tracker))
        if score is None:
            dispatcher.utter_message(response="utter_csat_score_hint", author_type="bot")
        return {"csat_score": score}

    def validate_csat_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        _, intent = latest_turn(tracker)
        if intent == "deny" or text.startswith("/") or _NO_COMMENT.match(text):
            return {"csat_comment": NO_COMMENT}
        return {"csat_comment": text[:MAX_COMMENT]}

    @staticmethod
    def _answer_to(tracker: Tracker, slot: str) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text, intent = latest_turn(tracker)
        if not text.strip() or intent in NOT_AN_ANSWER:
            return {}
        return {slot: text}


class ActionCsatSubmit(Action):
    """Reports the finished survey to the handoff service, then clears the survey's slots so a
    later survey starts afresh."""

    def __init__(self, settings: HandoffSettings | None = None) -> None:
        self._settings = settings

    def name(self) -> str:
        return "action_csat_submit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        score = tracker.get_slot("csat_score")
        if score is not None:
            comment = tracker.get_slot("csat_comment") or None
            body = {"conversation_id": tracker.sender_id, "score": int(score), "comment": comment}
            await report_answer(self._settings or HandoffSettings.from_env(), body)
        return [SlotSet(slot, None) for slot in SURVEY_SLOTS]


async def report_answer(settings: HandoffSettings, body: dict[str, Any]) -> bool:
    """POST the answer, retried under the one policy (`outbound.retry`) while the service is
    unreachable or failing; a refusal (4xx) is logged and not retried. Whether it was stored."""
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    url = settings.url + ANSWERS_PATH
    conversation = body["conversation_id"]
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def attempt() -> int:
            async with http.post(url, json=body, headers=headers) as response:
                detail = f"HTTP {response.status}: {(await response.text())[:300]}"
                if response.status >= 500:
                    raise _ServiceFailed(detail)
                if response.status >= 300:
                    logger.error("CSAT answer of %s refused: %s", conversation, detail)
                return response.status

        try:
            status = await with_retries(
                attempt,
                what=f"CSAT answer of {conversation}",
                attempts=SUBMIT_ATTEMPTS,
                backoff_seconds=RETRY_SECONDS,
                retryable=lambda error: isinstance(
                    error, _ServiceFailed | aiohttp.ClientError | asyncio.TimeoutError
                ),
            )
        except (_ServiceFailed, aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error(
                "CSAT answer of %s lost after %d attempts: %s", conversation, SUBMIT_ATTEMPTS, error
            )
            return False
    return status < 300


class _ServiceFailed(Exception):
    """A 5xx answer from the handoff service: worth another try."""
