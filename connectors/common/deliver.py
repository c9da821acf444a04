"""The deliver endpoint contract: the handoff service sends agent and system lines through here.

`POST /webhooks/<channel>/deliver` with bearer `DELIVERY_TOKEN` and the body of
`contracts.delivery.DeliverRequest` answers 200 `{"status": "sent", "channel_message_id"}` or
4xx/5xx `{"error", "message"}`.

Every channel delivers through `deliver_once`: a message id is sent at most once (a retry gets
the first answer again, marked `"replayed": true`), and a retry that arrives while the first
attempt is still sending waits for it a little, then gets 409 `delivery_in_progress` with
`Retry-After` (the handoff service tries again later).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.deliveries import FAILED, SENDING, SENT, DeliveryLedger
from connectors.common.limits import DELIVER_MAX_BYTES
from connectors.common.safe_json import JsonRejected, parse_json
from contracts.delivery import DeliverRequest
from contracts.errors import ContractError

logger = logging.getLogger(__name__)

DEFAULT_BRAND = "Lumen Home"
# A retry first waits this long for the attempt still sending (the channel clients time out
# after 15 s), polling the ledger; a claim older than STALE_SECONDS was cut off by a restart.
IN_PROGRESS_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1
RETRY_AFTER_SECONDS = 2
STALE_SECONDS = 120.0


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
    """Check the bearer token (401) and the body against the contract (400); raises
    `DeliverError`.

    `token` is the channel's `deliver_token` credential; without it the `DELIVERY_TOKEN`
    environment variable is used. With neither, every request is refused.
    """
    require_delivery_token(request, token)
    try:
        body = parse_json(request.body or b"", max_bytes=DELIVER_MAX_BYTES)
    except JsonRejected as error:
        raise DeliverError(error.http_status, error.reason, error.message) from None
    if not isinstance(body, dict):
        raise DeliverError(400, "invalid_body", "The body must be a JSON object.")
    try:
        return DeliverRequest.from_json(body)
    except ContractError as error:
        raise DeliverError(400, error.code, f"{error}.") from None


def require_delivery_token(request: Request, token: str | None = None) -> None:
    """401 `DeliverError` unless the request carries the bearer delivery token (the deliver and
    media endpoints take the same token)."""
    expected = token or os.environ.get("DELIVERY_TOKEN", "")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        raise DeliverError(401, "unauthorized", "A valid bearer delivery token is required.")


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


Send = Callable[[DeliverRequest], Awaitable[HTTPResponse]]


async def deliver_once(
    request: Request, ledger: DeliveryLedger, req: DeliverRequest, send: Send
) -> HTTPResponse:
    """Run the channel's `send` for this message id only if no attempt sent or is sending it.

    `send` answers 200 `{"status": "sent", "channel_message_id", ...}` when the line went out,
    anything else when it did not (then a later retry may try again). After a 200 the line is
    appended to the tracker (`record_agent_line`).
    """
    claim = await ledger.claim(req.message_id)
    waited_until = time.monotonic() + IN_PROGRESS_WAIT_SECONDS
    while not claim.ours and claim.state == SENDING and time.monotonic() < waited_until:
        await asyncio.sleep(POLL_SECONDS)
        claim = await ledger.claim(req.message_id)
    if not claim.ours:
        return _not_sending_again(req, claim.state, claim.answer, claim.since)
    # Sanic cancels a handler whose caller hung up (the service's timeout), but the channel may
    # still deliver what it was given: the send and its settling run on, shielded.
    sending = asyncio.ensure_future(_send_and_settle(request, ledger, req, send))
    _SENDING.add(sending)
    sending.add_done_callback(_SENDING.discard)
    return await asyncio.shield(sending)


async def serve_delivery(
    request: Request, *, token: str | None, channel: str, ledger: DeliveryLedger, send: Send
) -> HTTPResponse:
    """The deliver endpoint of every channel: the token and body checked (`parse_deliver_request`),
    a line for another channel refused with one answer (422 `wrong_channel`), then
    `deliver_once`."""
    try:
        req = parse_deliver_request(request, token)
    except DeliverError as error:
        return error.response()
    if req.channel != channel:
        return deliver_error(
            422, "wrong_channel", f"This endpoint delivers to '{channel}', not '{req.channel}'."
        )
    return await deliver_once(request, ledger, req, send)


_SENDING: set[asyncio.Future[HTTPResponse]] = set()  # strong references until each settles


async def _send_and_settle(
    request: Request, ledger: DeliveryLedger, req: DeliverRequest, send: Send
) -> HTTPResponse:
    try:
        answer = await send(req)
    except BaseException:  # nothing went out that we know of (a bug, shutdown): retryable
        await ledger.settle(req.message_id, FAILED)
        raise
    if answer.status != 200:
        await ledger.settle(req.message_id, FAILED)
        return answer
    body = answer.body or b"{}"
    await ledger.settle(req.message_id, SENT, body)
    try:
        await record_agent_line(request, req, json.loads(body).get("channel_message_id"))
    except Exception:  # the customer has the line: a retry must not send it again for this
        logger.exception("Line %s was sent but is not in the tracker", req.message_id)
    return answer


def _not_sending_again(
    req: DeliverRequest, state: str, answer: bytes | None, since: float
) -> HTTPResponse:
    if state == SENT and answer is not None:
        return response.json({**json.loads(answer), "replayed": True})
    if time.time() - since > STALE_SECONDS:
        return deliver_error(
            422,
            "delivery_outcome_unknown",
            "The connector stopped while sending this line; it may or may not have reached the "
            "customer, so it is not sent again. Send a new message if it is needed.",
        )
    logger.info("Line %s is still being sent by an earlier request", req.message_id)
    error = deliver_error(
        409, "delivery_in_progress", "An earlier request is still sending this line; retry."
    )
    error.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return error
