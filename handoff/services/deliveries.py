"""Delivery statuses the connectors report for lines they delivered (`POST /api/v1/deliveries`).

A status only moves a line forward: pending < sent < delivered < read, and failed (with the
channel's reason, shown to the agent) is final. Each move is one conditional UPDATE, so statuses
that arrive twice, out of order or concurrently (Meta guarantees neither order nor uniqueness)
cannot move a line back. A status for a line not known here yet is ignored: it can arrive before
the deliver call that gives the line its channel id has returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import BadRequest, Invalid
from handoff.ingest.mapping import event_time
from handoff.live import Broadcaster
from handoff.repositories import Messages
from handoff.services.views import message_event

logger = logging.getLogger(__name__)

PROGRESS = ("pending", "sent", "delivered", "read", "failed")
REPORTED = PROGRESS[1:]
MAX_REPORTS = 100
MAX_ERROR = 4000
REQUIRED = ("channel", "conversation_id", "channel_message_id", "status", "at")
LIMITS = {"channel": 50, "conversation_id": 255, "channel_message_id": 255, "status": 20}


@dataclass(frozen=True)
class StatusReport:
    channel: str
    conversation_id: str
    channel_message_id: str
    status: str
    error: str | None
    at: datetime


@dataclass(frozen=True)
class ReportResult:
    updated: int  # statuses that moved a line forward
    unknown: int  # statuses for lines not known here (ignored)


class DeliveryStatusService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], live: Broadcaster) -> None:
        self.sessions = sessions
        self.live = live

    async def report(self, body: Any) -> ReportResult:
        """Apply every status of the body (one or a list) in one transaction, then publish
        `message.updated` for each line that changed."""
        reports = parse_reports(body)
        changed: dict[str, None] = {}  # ordered set of line ids
        updated = unknown = 0
        async with self.sessions.begin() as session:
            messages = Messages(session)
            for report in reports:
                line_id = await messages.by_channel_id(
                    report.conversation_id, report.channel_message_id
                )
                if line_id is None:
                    unknown += 1
                    logger.debug(
                        "%s status %s (at %s) for unknown message %s of %s ignored",
                        report.channel,
                        report.status,
                        report.at.isoformat(),
                        report.channel_message_id,
                        report.conversation_id,
                    )
                    continue
                error = report.error if report.status == "failed" else None
                replaces = PROGRESS[: PROGRESS.index(report.status)]
                if await messages.set_delivery_status(line_id, report.status, error, replaces):
                    updated += 1
                    changed[line_id] = None
        for line_id in changed:
            async with self.sessions() as session:
                event = await message_event(session, line_id)
            await self.live.publish({**event, "type": "message.updated"})
        return ReportResult(updated, unknown)


def parse_reports(body: Any) -> list[StatusReport]:
    """One status object or a list of them: 400 when the shape is wrong or a field is missing,
    422 when a field has the wrong type or value. Nothing is applied unless all are valid."""
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise BadRequest(
            "The body must be a status object or a non-empty list of them.", "malformed_body"
        )
    if len(items) > MAX_REPORTS:
        raise Invalid(f"At most {MAX_REPORTS} statuses per request.", "too_many_statuses")
    return [
        _report(item, f"statuses[{index}]." if isinstance(body, list) else "")
        for index, item in enumerate(items)
    ]


def _report(item: dict[str, Any], where: str) -> StatusReport:
    for name in REQUIRED:
        if item.get(name) in (None, ""):
            raise BadRequest(f"Field {where + name!r} is required.", "missing_field")
    for name, limit in LIMITS.items():
        value = item[name]
        if not isinstance(value, str) or len(value) > limit:
            raise Invalid(f"{where}{name} must be a string of at most {limit} characters.")
    if item["status"] not in REPORTED:
        raise Invalid(f"{where}status must be one of {', '.join(REPORTED)}.", "invalid_status")
    error = item.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR):
        raise Invalid(f"{where}error must be null or a string of at most {MAX_ERROR} characters.")
    try:
        at = event_time(item["at"]) if isinstance(item["at"], str) else None
    except ValueError:
        at = None
    if at is None:
        raise Invalid(f"{where}at must be an ISO-8601 time, e.g. 2026-11-21T12:00:00.000Z.")
    return StatusReport(
        channel=item["channel"],
        conversation_id=item["conversation_id"],
        channel_message_id=item["channel_message_id"],
        status=item["status"],
        error=error,
        at=at,
    )
