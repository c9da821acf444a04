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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.delivery import StatusReport
from contracts.errors import ContractError
from contracts.values import FAILED, replaced_statuses
from handoff.errors import from_contract
from handoff.live import Broadcaster
from handoff.repositories import Messages
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import message_event

logger = logging.getLogger(__name__)


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
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
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
                error = report.error if report.status == FAILED else None
                replaces = replaced_statuses(report.status)
                if await messages.set_delivery_status(line_id, report.status, error, replaces):
                    updated += 1
                    changed[line_id] = None
            for line_id in changed:
                work.publish({**await message_event(session, line_id), "type": "message.updated"})
        return ReportResult(updated, unknown)


def parse_reports(body: Any) -> list[StatusReport]:
    """One status object or a list of them (the contract's `StatusReport`): 400 when the shape
    is wrong or a field is missing, 422 when a field has the wrong type or value. Nothing is
    applied unless all are valid."""
    try:
        return StatusReport.list_from_json(body)
    except ContractError as error:
        raise from_contract(error) from None
