"""Rasa's HTTP API, for handing a conversation back to the bot and starting the satisfaction
survey (the bot's `csat_form`, bot/domain/csat.yml) after a person resolved it, or readying the
bot for the answer to a survey sent as a channel template."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from handoff.http import RetryPolicy, Unreachable, post

RESUME_EVENTS = [
    {"event": "resume"},
    {"event": "slot", "name": "handoff_active", "value": False},
    # The paused turn ended without action_listen; the bot's rules need it.
    {"event": "action", "name": "action_listen"},
]


class RasaError(Exception):
    """Rasa refused or could not be reached; the message says why."""


class RasaClient:
    def __init__(
        self, http: aiohttp.ClientSession, url: str, token: str | None, policy: RetryPolicy
    ) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.token = token
        self.policy = policy

    async def return_to_bot(self, conversation_id: str) -> None:
        """Resume the paused tracker, then let the bot tell the customer it is back."""
        await self._resume(conversation_id, [])
        await self._trigger(conversation_id, "handoff_ended")

    async def start_survey(self, conversation_id: str, scale: str, comment: bool) -> None:
        """Resume the paused tracker with the survey's settings, then trigger `csat_survey`: the
        bot asks in the customer's channel (buttons, quick replies or a list)."""
        await self.await_survey_answer(conversation_id, scale, comment)
        await self._trigger(conversation_id, "csat_survey")

    async def await_survey_answer(self, conversation_id: str, scale: str, comment: bool) -> None:
        """Resume the paused tracker with the survey's settings and ask nothing: the survey goes
        as a channel template, whose button answer the bot takes (`contracts/survey.py`)."""
        settings: list[dict[str, object]] = [
            {"event": "slot", "name": "csat_scale", "value": scale},
            {"event": "slot", "name": "csat_comment_wanted", "value": comment},
        ]
        await self._resume(conversation_id, settings)

    async def _resume(self, conversation_id: str, slots: list[dict[str, object]]) -> None:
        # The slots go before the closing action_listen, like the handoff_active reset.
        events = [*RESUME_EVENTS[:-1], *slots, RESUME_EVENTS[-1]]
        await self._post(f"{self._conversation(conversation_id)}/tracker/events", events, {})

    async def _trigger(self, conversation_id: str, intent: str) -> None:
        url = f"{self._conversation(conversation_id)}/trigger_intent"
        await self._post(url, {"name": intent}, {"output_channel": "latest"})

    def _conversation(self, conversation_id: str) -> str:
        return f"{self.url}/conversations/{quote(conversation_id, safe='')}"

    async def _post(self, url: str, payload: object, params: dict[str, str]) -> None:
        if self.token:
            params = {**params, "token": self.token}
        try:
            answer = await post(self.http, url, payload, self.policy, params=params)
        except Unreachable as error:
            raise RasaError(f"Rasa could not be reached ({error}).") from None
        if answer.status >= 300:
            raise RasaError(f"Rasa answered HTTP {answer.status}: {answer.body}")
