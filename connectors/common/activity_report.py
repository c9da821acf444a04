"""The customer's presence in the chat, reported to the handoff service for the agent's console.

`POST {handoff_url}/api/v1/customer-activity` with bearer `HANDOFF_API_TOKEN` and a
`contracts.activity.CustomerActivity` body, see docs/handoff-service.md. Presence is only worth
something now: each report is one attempt with a short timeout in the channel's
BackgroundTasks, never retried, so the chat never waits for it and a handoff service that is
down costs nothing but a log line (the first failure of a streak and every tenth). The service
orders crossing reports by their `at`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from connectors.common.background import BackgroundTasks
from connectors.common.status_report import HandoffEndpoint, Refused, Unavailable, post
from contracts.activity import CustomerActivity
from outbound.retry import Backoff

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0


class ActivityReporter:
    """Posts presence reports in background tasks; never raises to the caller."""

    def __init__(self, endpoint: HandoffEndpoint, tasks: BackgroundTasks, channel: str) -> None:
        self.endpoint = endpoint
        self.tasks = tasks
        self.channel = channel
        self._failures = Backoff()  # counts a streak of failures, for the log level

    def report(self, conversation_id: str, state: str) -> None:
        """`state` (contracts.activity) as of now."""
        activity = CustomerActivity(
            self.channel, conversation_id, state, datetime.now(timezone.utc)
        )
        self.tasks.spawn(self.send(activity))

    async def send(self, activity: CustomerActivity) -> None:
        url = self.endpoint.activity_url
        try:
            await post(url, activity.to_json(), self.endpoint.token, TIMEOUT_SECONDS)
        except (Refused, Unavailable) as error:
            logger.log(
                self._failures.log_level,
                "Customer activity %s of %s not reported to %s: %s",
                activity.state,
                activity.conversation_id,
                url,
                error,
            )
            self._failures.next_delay()
            return
        self._failures.reset()
