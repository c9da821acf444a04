"""`POST /webhooks/erasure/erase`: the handoff service erases one customer on the bot side.

Mounted as a Rasa input channel so it runs in the Rasa process with Rasa's own tracker store,
event broker and lock store (whatever database they are configured with). Bearer
`ERASURE_TOKEN`; body `{"sender_id": "...", "message_ids": ["...", ...]}` (`message_ids`: ids of
the customer's lines that the handoff service knows, optional). Under the sender's conversation
lock it deletes, in this order, the connector state rows and outbox requests (message ids are
collected from the tracker first), the event broker's rows, then the tracker, so a failed call
can simply be repeated. 200 `{"counts": {...}}` with the rows deleted per store (all zero when
there was nothing left); 401 wrong token; 400 bad body; 503 while Rasa has no agent loaded or a
store is unavailable (the handoff service retries).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.erasure import stores

logger = logging.getLogger(__name__)

MAX_SENDER_ID = 1000
MAX_MESSAGE_IDS = 100_000


class ErasureInput(InputChannel):
    """Not a conversation channel: it only serves the erasure endpoint."""

    def __init__(
        self, token: str, state_path: Path | None = None, outbox_path: Path | None = None
    ) -> None:
        self.token = token
        self.state_path = state_path
        self.outbox_path = outbox_path

    @classmethod
    def name(cls) -> str:
        return "erasure"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ErasureInput:
        """Keys: `token` (required: the handoff service's ERASURE_TOKEN), `state_path` (the
        connectors' SQLite state, CONNECTORS_STATE_DB), `outbox_path` (the action server's
        handoff outbox, HANDOFF_OUTBOX_PATH)."""
        credentials = credentials or {}
        token = credentials.get("token")
        if not isinstance(token, str) or not token.strip():
            raise RasaException(
                "erasure: the credentials key 'token' is missing or empty (the bearer token the"
                " handoff service sends to /webhooks/erasure/erase, ERASURE_TOKEN)."
            )
        return cls(
            token=token.strip(),
            state_path=_path(credentials.get("state_path")),
            outbox_path=_path(credentials.get("outbox_path")),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("erasure_webhook", __name__)

        @bp.post("/erase")
        async def erase(request: Request) -> HTTPResponse:
            return await self._erase(request)

        return bp

    async def _erase(self, request: Request) -> HTTPResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            return _error(401, "unauthorized", "A valid bearer erasure token is required.")
        try:
            sender_id, known_ids = _parse(request)
        except ValueError as error:
            return _error(400, "invalid_body", str(error))
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return _error(503, "not_ready", "Rasa has no agent loaded yet; try again.")
        try:
            async with agent.lock_store.lock(sender_id):
                counts = await asyncio.to_thread(self._erase_all, agent, sender_id, known_ids)
        except stores.UnsupportedStore as error:
            return _error(501, "unsupported_store", str(error))
        except Exception:  # a store is down or locked: nothing is lost, the caller retries
            logger.exception("Erasure failed; the handoff service will retry")
            return _error(503, "store_unavailable", "A store could not be erased; try again.")
        return response.json({"counts": counts})

    def _erase_all(self, agent: Any, sender_id: str, known_ids: list[str]) -> dict[str, Any]:
        tracker_store = agent.tracker_store
        ids = stores.message_ids(tracker_store, sender_id) | set(known_ids)
        state = stores.erase_connector_state(self.state_path, sender_id, ids)
        counts: dict[str, Any] = {
            "connector_state": state.rows,
            "outbox": stores.erase_outbox(self.outbox_path, sender_id),
            "event_broker": stores.erase_broker(tracker_store.event_broker, sender_id),
            "tracker_store": stores.erase_tracker(tracker_store, sender_id),
        }
        if state.unknown_tables:
            counts["connector_state_unknown_tables"] = state.unknown_tables
        logger.info("Erased a customer on the bot side: %s", counts)
        return counts


def _parse(request: Request) -> tuple[str, list[str]]:
    try:
        body = request.json
    except Exception as error:  # sanic raises InvalidUsage for bodies that are not JSON
        raise ValueError("The body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    sender_id = body.get("sender_id")
    if not isinstance(sender_id, str) or not sender_id.strip() or len(sender_id) > MAX_SENDER_ID:
        raise ValueError(f"'sender_id' must be a non-empty string of at most {MAX_SENDER_ID}.")
    ids = body.get("message_ids", [])
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_MESSAGE_IDS
        or not all(isinstance(i, str) and i for i in ids)
    ):
        raise ValueError("'message_ids' must be a list of non-empty strings.")
    return sender_id, ids


def _path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value.strip() else None


def _error(status: int, error: str, message: str) -> HTTPResponse:
    return response.json({"error": error, "message": message}, status=status)
