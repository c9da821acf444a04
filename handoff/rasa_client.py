"""Rasa's HTTP API, for handing a conversation back to the bot."""

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
        base = f"{self.url}/conversations/{quote(conversation_id, safe='')}"
        await self._post(f"{base}/tracker/events", RESUME_EVENTS, {})
        await self._post(
            f"{base}/trigger_intent", {"name": "handoff_ended"}, {"output_channel": "latest"}
        )

    async def _post(self, url: str, payload: object, params: dict[str, str]) -> None:
        if self.token:
            params = {**params, "token": self.token}
        try:
            answer = await post(self.http, url, payload, self.policy, params=params)
        except Unreachable as error:
            raise RasaError(f"Rasa could not be reached ({error}).") from None
        if answer.status >= 300:
            raise RasaError(f"Rasa answered HTTP {answer.status}: {answer.body}")
