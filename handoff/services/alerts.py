"""Supervisors' alerts: SLA approaching and breached per team, volume spikes per team
(docs/alerts.md).

Every `ALERT_CHECK_SECONDS` each instance evaluates the conditions. A condition that starts
opens one alert (its `open_key`, `kind:team`, is unique while open, so two instances cannot
both open it); while it lasts the alert's conversations and figures are updated without a new
notification; when it ends the alert is cleared. Opening and clearing are each sent once to the
alert webhook (Slack-compatible JSON, HMAC-SHA256 signed), retried within the round on 5xx and
connection errors and in later rounds until it is accepted (at most `MAX_NOTIFY_ATTEMPTS`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.db import affected_rows, insert_for
from handoff.errors import Invalid
from handoff.http import RetryPolicy, Unreachable, post
from handoff.live import Broadcaster
from handoff.models import KpiAlert, KpiEpisode, utc_now
from handoff.services.business_calendar import BusinessCalendar
from handoff.services.kpis import open_sla
from handoff.services.spikes import SpikeRule, spike, windows

logger = logging.getLogger(__name__)

SLA_APPROACHING, SLA_BREACHED, VOLUME_SPIKE = "sla_approaching", "sla_breached", "volume_spike"
KINDS = (SLA_APPROACHING, SLA_BREACHED, VOLUME_SPIKE)
MAX_NOTIFY_ATTEMPTS = 10
OPENED, CLEARED = "opened", "cleared"
NO_TEAM = "-"
DASHBOARD = "/console/dashboard.html"


@dataclass(frozen=True)
class Condition:
    kind: str
    team: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    conversation_ids: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.team}"


def alert_view(row: KpiAlert) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "team": row.team,
        "status": row.status,
        "opened_at": row.opened_at.isoformat(),
        "cleared_at": row.cleared_at.isoformat() if row.cleared_at else None,
        "summary": row.summary,
        "details": row.details,
        "conversations": row.conversation_ids,
        "notified": [event for event in row.notified.split(",") if event],
        "notify_error": row.notify_error,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` keyed with the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def webhook_payload(row: KpiAlert, event: str, console_url: str) -> dict[str, Any]:
    """Slack-compatible (`text`), with the alert itself for other receivers."""
    verb = "cleared" if event == CLEARED else "alert"
    team = row.team if row.team != NO_TEAM else "all teams"
    text = f"[{verb}] {row.summary} ({team})"
    if event == OPENED and row.conversation_ids:
        text += f": {len(row.conversation_ids)} conversation(s), {console_url}{DASHBOARD}"
    return {"text": text, "event": event, "alert": alert_view(row)}


class AlertService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        http: aiohttp.ClientSession,
        calendar: BusinessCalendar | None,
        *,
        warning_ratio: float = 0.8,
        rule: SpikeRule | None = None,
        webhook_url: str = "",
        webhook_secret: str = "",
        console_url: str = "http://127.0.0.1:8000",
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sessions, self.live, self.http = sessions, live, http
        self.calendar = calendar
        self.warning_ratio = warning_ratio
        self.rule = rule or SpikeRule()
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.console_url = console_url
        self.policy = policy or RetryPolicy()

    async def round(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Evaluate, open and clear alerts, then notify; the (event, key) pairs of this round."""
        now = now or utc_now()
        conditions = {c.key: c for c in [*await self.sla_conditions(now), *await self.spikes(now)]}
        events = await self._apply(conditions, now)
        for event, alert_id in events:
            async with self.sessions() as session:
                row = await session.get(KpiAlert, alert_id)
                if row is not None:
                    await self.live.publish({"type": f"alert.{event}", "alert": alert_view(row)})
        await self.notify_pending()
        async with self.sessions() as session:
            keys = {row.id: f"{row.kind}:{row.team}" for row in await self._rows(session, events)}
        return [(event, keys[alert_id]) for event, alert_id in events]

    async def sla_conditions(self, now: datetime) -> list[Condition]:
        standing = await open_sla(self.sessions, self.calendar, self.warning_ratio, now)
        grouped: dict[tuple[str, str], list[Any]] = {}
        for item in standing:
            if item.state == "ok":
                continue
            kind = SLA_BREACHED if item.state == "breached" else SLA_APPROACHING
            grouped.setdefault((kind, item.team or NO_TEAM), []).append(item)
        conditions = []
        for (kind, team), items in sorted(grouped.items()):
            words = "past their SLA" if kind == SLA_BREACHED else "close to their SLA"
            conditions.append(
                Condition(
                    kind,
                    team,
                    f"{len(items)} conversation(s) {words}",
                    {"count": len(items), "goals": sorted({i.goal for i in items})},
                    [i.conversation_pk for i in sorted(items, key=lambda i: i.seconds_left)],
                )
            )
        return conditions

    async def spikes(self, now: datetime) -> list[Condition]:
        spans = windows(now, self.rule)
        counts: dict[str, list[int]] = {}
        recent: dict[str, list[str]] = {}
        async with self.sessions() as session:
            for index, (start, end) in enumerate(spans):
                query = (
                    select(KpiEpisode.team, func.count())
                    .where(KpiEpisode.started_at >= start, KpiEpisode.started_at < end)
                    .group_by(KpiEpisode.team)
                )
                for team, count in (await session.execute(query)).tuples():
                    counts.setdefault(team or NO_TEAM, [0] * len(spans))[index] = count
            start, end = spans[0]
            latest = (
                select(KpiEpisode.team, KpiEpisode.conversation_pk)
                .where(KpiEpisode.started_at >= start, KpiEpisode.started_at < end)
                .order_by(KpiEpisode.started_at.desc())
            )
            for team, pk in (await session.execute(latest)).tuples():
                recent.setdefault(team or NO_TEAM, []).append(pk)
        conditions = []
        for team, series in sorted(counts.items()):
            found = spike(series[0], series[1:], self.rule)
            if found is None:
                continue
            minutes = int(self.rule.window.total_seconds() // 60)
            conditions.append(
                Condition(
                    VOLUME_SPIKE,
                    team,
                    f"{found.volume} handoffs in {minutes} min, {found.ratio}x the usual"
                    f" {found.baseline} for this weekday and hour",
                    {"volume": found.volume, "baseline": found.baseline, "ratio": found.ratio},
                    list(dict.fromkeys(recent.get(team, [])))[:200],
                )
            )
        return conditions

    async def _apply(
        self, conditions: dict[str, Condition], now: datetime
    ) -> list[tuple[str, int]]:
        events: list[tuple[str, int]] = []
        async with self.sessions.begin() as session:
            open_rows = {
                row.open_key: row
                for row in await session.scalars(select(KpiAlert).where(KpiAlert.status == "open"))
            }
            for key, condition in conditions.items():
                row = open_rows.get(key)
                if row is not None:
                    row.summary, row.details = condition.summary, condition.details
                    row.conversation_ids = condition.conversation_ids
                    continue
                statement = (
                    insert_for(session, KpiAlert)
                    .values(
                        kind=condition.kind,
                        team=condition.team,
                        open_key=key,
                        status="open",
                        opened_at=now,
                        summary=condition.summary,
                        details=condition.details,
                        conversation_ids=condition.conversation_ids,
                        notified="",
                        notify_attempts=0,
                    )
                    .on_conflict_do_nothing(index_elements=["open_key"])
                    .returning(KpiAlert.id)
                )
                created = (await session.execute(statement)).scalar_one_or_none()
                if created is not None:
                    events.append((OPENED, created))
            for open_key, row in open_rows.items():
                if open_key in conditions:
                    continue
                cleared = await affected_rows(
                    session,
                    update(KpiAlert)
                    .where(KpiAlert.id == row.id, KpiAlert.status == "open")
                    .values(status="cleared", open_key=None, cleared_at=now, notify_attempts=0)
                    .execution_options(synchronize_session=False),
                )
                if cleared == 1:
                    events.append((CLEARED, row.id))
        return events

    async def _rows(self, session: AsyncSession, events: list[tuple[str, int]]) -> list[KpiAlert]:
        ids = [alert_id for _, alert_id in events]
        if not ids:
            return []
        return list((await session.scalars(select(KpiAlert).where(KpiAlert.id.in_(ids)))).all())

    async def notify_pending(self) -> int:
        """Send every opening and clearing not yet accepted by the webhook; how many were."""
        if not self.webhook_url:
            return 0
        async with self.sessions() as session:
            pending = (
                await session.scalars(
                    select(KpiAlert)
                    .where(
                        KpiAlert.notify_attempts < MAX_NOTIFY_ATTEMPTS,
                        or_(
                            ~KpiAlert.notified.contains(OPENED),
                            (KpiAlert.status == "cleared") & ~KpiAlert.notified.contains(CLEARED),
                        ),
                    )
                    .order_by(KpiAlert.id)
                )
            ).all()
        sent = 0
        for row in pending:
            event = OPENED if OPENED not in row.notified else CLEARED
            if await self._send(row, event):
                sent += 1
        return sent

    async def _send(self, row: KpiAlert, event: str) -> bool:
        async with self.sessions.begin() as session:  # one instance per attempt
            claimed = await affected_rows(
                session,
                update(KpiAlert)
                .where(KpiAlert.id == row.id, KpiAlert.notify_attempts == row.notify_attempts)
                .values(notify_attempts=row.notify_attempts + 1)
                .execution_options(synchronize_session=False),
            )
            if claimed != 1:
                return False
        body = json.dumps(webhook_payload(row, event, self.console_url)).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Lumen-Timestamp": stamp,
            "X-Lumen-Signature": sign(self.webhook_secret, stamp, body),
        }
        error: str | None = None
        try:
            answer = await post(self.http, self.webhook_url, None, self.policy, headers, data=body)
            if not 200 <= answer.status < 300:
                error = f"HTTP {answer.status}"
        except Unreachable as failure:
            error = str(failure)
        async with self.sessions.begin() as session:
            values: dict[str, Any] = {"notify_error": error}
            if error is None:
                done = ",".join(e for e in (*row.notified.split(","), event) if e)
                values.update(notified=done, notify_attempts=0)
            else:
                logger.warning("alert %s %s not delivered: %s", row.id, event, error)
            await session.execute(update(KpiAlert).where(KpiAlert.id == row.id).values(**values))
        return error is None

    async def list(self, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
        if status not in (None, "open", "cleared"):
            raise Invalid("status must be open or cleared.", "invalid_status")
        query = select(KpiAlert).order_by(KpiAlert.opened_at.desc(), KpiAlert.id.desc())
        if status is not None:
            query = query.where(KpiAlert.status == status)
        async with self.sessions() as session:
            return [alert_view(row) for row in await session.scalars(query.limit(limit))]
