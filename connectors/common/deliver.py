"""The deliver endpoint contract: the handoff service sends agent and system lines through here.

`POST /webhooks/<channel>/deliver` with bearer `DELIVERY_TOKEN` and
`{"conversation_id", "channel", "message_id", "author_type", "author_name", "text"}` answers
200 `{"status": "sent", "channel_message_id"}` or 4xx/5xx `{"error", "message"}`.
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.markers import HUMAN_AUTHORS

logger = logging.getLogger(__name__)

DEFAULT_BRAND = "Lumen Home"


@dataclass(frozen=True)
class DeliverRequest:
    conversation_id: str
    channel: str
    message_id: str
    author_type: str
    author_name: str | None
    text: str


class DeliverError(Exception):
    """A refused deliver request; `response()` is the answer for the handoff service."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def response(self) -> HTTPResponse:
        return deliver_error(self.status, self.error, self.message)


def deliver_error(status: int, error: str, message: str) -> HTTPResponse:
    return response.json({"error": error, "message": message}, status=status)


def parse_deliver_request(request: Request, token: str | None = None) -> DeliverRequest:
    """Check the bearer token (401) and the body (400); raises `DeliverError`.

    `token` is the channel's `deliver_token` credential; without it the `DELIVERY_TOKEN`
    environment variable is used. With neither, every request is refused.
    """
    expected = token or os.environ.get("DELIVERY_TOKEN", "")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        raise DeliverError(401, "unauthorized", "A valid bearer delivery token is required.")
    try:
        body = request.json
    except Exception as error:  # sanic raises InvalidUsage for bodies that are not JSON
        raise DeliverError(400, "malformed_json", "The body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise DeliverError(400, "invalid_body", "The body must be a JSON object.")
    fields = {name: _required_text(body, name) for name in _REQUIRED_TEXT}
    if fields["author_type"] not in HUMAN_AUTHORS:
        raise DeliverError(400, "invalid_field", "author_type must be 'agent' or 'system'.")
    author_name = body.get("author_name")
    if author_name is not None and not isinstance(author_name, str):
        raise DeliverError(400, "invalid_field", "author_name must be a string or null.")
    return DeliverRequest(author_name=author_name or None, **fields)


_REQUIRED_TEXT = ("conversation_id", "channel", "message_id", "author_type", "text")


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DeliverError(400, "missing_field", f"'{name}' must be a non-empty string.")
    return value


def customer_facing_text(req: DeliverRequest, brand: str | None = DEFAULT_BRAND) -> str:
    """What the customer reads: agent lines carry the agent's name, system lines go as they are.

    For channels that cannot show who wrote a message, e.g. "Dana (Lumen Home): Hello".
    """
    if req.author_type != "agent":
        return req.text
    name = req.author_name or "Agent"
    label = f"{name} ({brand})" if brand else name
    return f"{label}: {req.text}"


async def record_agent_line(
    request: Request, req: DeliverRequest, channel_message_id: str | None
) -> None:
    """Append the delivered line as a `bot` event to the conversation's tracker.

    The tracker store publishes it to the event broker, so the transcript and the handoff service
    see agent/system lines; the handoff service dedupes on `handoff_message_id`. Without a loaded
    Rasa agent (a connector mounted on its own) there is no tracker and nothing is recorded.
    """
    from rasa.shared.core.events import BotUttered  # Rasa is heavy; only needed here

    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        logger.warning("No Rasa agent: line %s not recorded in a tracker", req.message_id)
        return
    metadata = {
        "author_type": req.author_type,
        "author_name": req.author_name,
        "handoff_message_id": req.message_id,
        "channel_message_id": channel_message_id,
    }
    async with agent.lock_store.lock(req.conversation_id):
        tracker = await agent.tracker_store.get_or_create_tracker(req.conversation_id)
        tracker.update(BotUttered(text=req.text, metadata=metadata))
        await agent.tracker_store.save(tracker)
