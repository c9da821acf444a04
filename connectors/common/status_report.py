"""Delivery statuses of the lines we sent, reported to the handoff service so agents see them.

`POST {handoff_url}/api/v1/deliveries` with bearer `HANDOFF_API_TOKEN` and a list of
`contracts.delivery.StatusReport` bodies, see docs/handoff-service.md. Reports run in the
channel's BackgroundTasks, so a webhook never waits for them; 5xx answers and connection trouble
are retried (`outbound.retry`), then logged (the channel's own state still holds the
status). Enabled by the channel's credentials keys `handoff_url` and `handoff_token`; without
them statuses are only recorded locally. The endpoint and `post` also carry the web chat's
presence reports (activity_report.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from connectors.common.background import BackgroundTasks
from contracts.delivery import StatusReport
from outbound.retry import with_retries

logger = logging.getLogger(__name__)

Update = TypeVar("Update")
Update_contra = TypeVar("Update_contra", contravariant=True)


class StatusReportConfigError(ValueError):
    """credentials.yml has half of the handoff settings."""


@dataclass(frozen=True)
class HandoffEndpoint:
    """The handoff service: where statuses (and presence reports) go, how hard to try."""

    url: str
    token: str
    attempts: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 5.0

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> HandoffEndpoint | None:
        """None when `handoff_url` is absent or empty (statuses then stay local)."""
        credentials = credentials or {}
        url = str(credentials.get("handoff_url") or "").strip()
        if not url:
            return None
        token = str(credentials.get("handoff_token") or "").strip()
        if not token:
            raise StatusReportConfigError(
                "credentials.yml has 'handoff_url' but no 'handoff_token' "
                "(e.g. handoff_token: ${HANDOFF_API_TOKEN})."
            )
        return cls(url.rstrip("/"), token)

    @property
    def deliveries_url(self) -> str:
        return f"{self.url}/api/v1/deliveries"

    @property
    def activity_url(self) -> str:
        return f"{self.url}/api/v1/customer-activity"


class StatusReporter:
    """Posts reports to the handoff service in background tasks; never raises to the caller."""

    def __init__(self, endpoint: HandoffEndpoint, tasks: BackgroundTasks) -> None:
        self.endpoint = endpoint
        self.tasks = tasks

    def report(self, reports: Sequence[StatusReport]) -> None:
        if reports:
            self.tasks.spawn(self.send(reports))

    async def send(self, reports: Sequence[StatusReport]) -> None:
        endpoint = self.endpoint
        body = [report.to_json() for report in reports]
        try:
            await with_retries(
                lambda: post(
                    endpoint.deliveries_url, body, endpoint.token, endpoint.timeout_seconds
                ),
                what=f"Delivery statuses to {endpoint.deliveries_url}",
                attempts=endpoint.attempts,
                backoff_seconds=endpoint.backoff_seconds,
                retryable=lambda error: isinstance(error, Unavailable),
            )
        except Refused as error:  # our request is wrong: retrying will not help
            logger.error("The handoff service refused %d delivery statuses (%s)", len(body), error)
        except Unavailable as error:
            logger.error(
                "Could not report delivery statuses %s to %s after %d attempts: %s",
                [(report.channel_message_id, report.status) for report in reports],
                endpoint.deliveries_url,
                endpoint.attempts,
                error,
            )


async def post(url: str, body: Any, token: str, timeout_seconds: float) -> None:
    """POST `body` to the handoff service with the bearer `token`; raises `Refused` for a 4xx,
    `Unavailable` for a 5xx, a timeout or no connection."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=body, headers=headers) as answer,
        ):
            if answer.status < 300:
                return
            text = (await answer.text())[:300]
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise Unavailable(f"{type(error).__name__}: {error}") from error
    if answer.status < 500:
        raise Refused(f"HTTP {answer.status}: {text}")
    raise Unavailable(f"HTTP {answer.status}: {text}")


class Unavailable(Exception):
    """The handoff service did not take the call now (5xx, no answer): worth retrying."""


class Refused(Exception):
    """The handoff service refused the call (4xx)."""


class StatusSink(Protocol[Update_contra]):
    async def record(self, update: Update_contra) -> None: ...


class ReportingStatusSink(Generic[Update]):
    """A channel's StatusSink that records each status locally first (the channel's own
    state), then reports it to the handoff service in the background."""

    def __init__(
        self,
        local: StatusSink[Update],
        reporter: StatusReporter,
        to_report: Callable[[Update], StatusReport | None],
    ) -> None:
        self.local = local
        self.reporter = reporter
        self.to_report = to_report

    async def record(self, update: Update) -> None:
        await self.local.record(update)
        if (report := self.to_report(update)) is not None:
            self.reporter.report([report])
