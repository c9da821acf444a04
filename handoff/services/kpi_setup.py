"""The KPI parts of the app: services on `app.ctx`, and their background rounds."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sanic import Sanic

from handoff.http import RetryPolicy
from handoff.periodic import run_every
from handoff.services.alerts import AlertService
from handoff.services.api_keys import ApiKeyService
from handoff.services.business_calendar import load_calendar
from handoff.services.kpis import KpiQueries, KpiRefresher
from handoff.services.sla_targets import SlaTargetService
from handoff.services.spikes import SpikeRule
from handoff.settings import Settings


def setup_kpis(app: Sanic) -> None:
    """After the engine and the HTTP client exist (the app's `start`)."""
    settings: Settings = app.ctx.settings
    kpis = settings.kpis
    sessions = app.ctx.sessions
    app.ctx.calendar = calendar = load_calendar(kpis.business_hours_path)
    app.ctx.kpis = KpiQueries(sessions)
    app.ctx.kpi_refresher = KpiRefresher(sessions, calendar)
    app.ctx.sla_targets = SlaTargetService(sessions)
    app.ctx.api_keys = ApiKeyService(sessions)
    app.ctx.alerts = AlertService(
        sessions,
        app.ctx.live,
        app.ctx.http,
        calendar,
        warning_ratio=kpis.sla_warning_ratio,
        rule=SpikeRule(
            kpis.spike_factor,
            kpis.spike_min_volume,
            timedelta(minutes=kpis.spike_window_minutes),
            kpis.spike_weeks,
        ),
        webhook_url=kpis.webhook_url,
        webhook_secret=kpis.webhook_secret,
        console_url=settings.public_url,
        policy=RetryPolicy(settings.http_retries, settings.http_backoff_seconds),
    )


def kpi_tasks(app: Sanic) -> list[asyncio.Future[None]]:
    """The refresher and the alert rounds (the app's `started`)."""
    kpis = app.ctx.settings.kpis
    return [
        asyncio.ensure_future(
            run_every(kpis.refresh_seconds, app.ctx.kpi_refresher.refresh, "KPI refresh")
        ),
        asyncio.ensure_future(run_every(kpis.alert_seconds, app.ctx.alerts.round, "alert round")),
    ]
