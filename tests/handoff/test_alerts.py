"""SLA alerts per team, once per episode, cleared when over, sent to a local webhook receiver
signed and with retries; volume spike alerts from stored handoffs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import update

from handoff.http import RetryPolicy
from handoff.live import LocalBroadcaster
from handoff.models import Conversation, KpiEpisode
from handoff.services.alerts import AlertService
from handoff.services.spikes import SpikeRule
from handoff.settings import KpiSettings, SettingsError
from harness.handoff_data import make_conversation

SECRET = "alert-webhook-secret-for-tests"
FAST = RetryPolicy(attempts=3, backoff_seconds=0.01, timeout_seconds=5)


@dataclass
class Receiver:
    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        status = self.statuses[min(len(self.received), len(self.statuses)) - 1]
        return web.Response(status=status, text="ok")

    def bodies(self, status: int = 200) -> list[dict]:
        """The bodies of the requests answered with `status`."""
        answered = [
            self.statuses[min(i, len(self.statuses) - 1)] for i in range(len(self.received))
        ]
        return [
            json.loads(body)
            for (_, body), s in zip(self.received, answered, strict=True)
            if s == status
        ]


@asynccontextmanager
async def receiver(statuses: list[int]) -> AsyncIterator[Receiver]:
    server = Receiver(statuses)
    app = web.Application()
    app.router.add_post("/hook", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield server
    finally:
        await runner.cleanup()


def service(sessions, http, url="", **options) -> AlertService:
    return AlertService(
        sessions,
        LocalBroadcaster(),
        http,
        None,
        webhook_url=url,
        webhook_secret=SECRET,
        policy=FAST,
        **options,
    )


def queued_at(view) -> datetime:
    return datetime.fromisoformat(view["queued_at"].replace("Z", "+00:00"))


async def test_sla_alerts_fire_once_per_episode_and_clear_signed_with_retries(sessions):
    conversation = await make_conversation(sessions)  # 15 minutes to a first response
    start = queued_at(conversation)
    async with receiver([500, 200]) as hook, aiohttp.ClientSession() as http:
        alerts = service(sessions, http, hook.url)
        assert await alerts.round(start + timedelta(minutes=5)) == []
        assert await alerts.round(start + timedelta(minutes=13)) == [
            ("opened", "sla_approaching:billing")
        ]
        events = await alerts.round(start + timedelta(minutes=16))
        assert events == [
            ("opened", "sla_breached:billing"),
            ("cleared", "sla_approaching:billing"),
        ]
        assert await alerts.round(start + timedelta(minutes=20)) == []  # still breached: quiet
        (breach,) = await alerts.list("open")
        assert breach["kind"] == "sla_breached"
        assert breach["conversations"] == [conversation["id"]]
        async with sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation["id"])
                .values(status="resolved")
            )
        assert await alerts.round(start + timedelta(minutes=21)) == [
            ("cleared", "sla_breached:billing")
        ]
    # the first delivery got a 500 and was retried; four notifications were accepted
    accepted = hook.bodies(200)
    assert [(b["event"], b["alert"]["kind"]) for b in accepted] == [
        ("opened", "sla_approaching"),
        ("cleared", "sla_approaching"),
        ("opened", "sla_breached"),
        ("cleared", "sla_breached"),
    ]
    assert len(hook.received) == 5
    assert accepted[2]["text"].startswith("[alert] 1 conversation(s) past their SLA (billing)")
    for headers, body in hook.received:
        expected = hmac.new(
            SECRET.encode(), headers["X-Lumen-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Lumen-Signature"] == f"v1={expected}"


async def test_an_unreachable_webhook_is_retried_in_later_rounds(sessions):
    conversation = await make_conversation(sessions)
    start = queued_at(conversation)
    async with aiohttp.ClientSession() as http:
        alerts = service(sessions, http, "http://127.0.0.1:9/hook")
        await alerts.round(start + timedelta(minutes=16))
        (alert,) = await alerts.list("open")
        assert alert["notified"] == [] and "ClientConnectorError" in alert["notify_error"]
        async with receiver([200]) as hook:
            alerts.webhook_url = hook.url
            assert await alerts.notify_pending() == 1
            assert await alerts.notify_pending() == 0  # accepted: never sent twice
        assert len(hook.received) == 1
        (alert,) = await alerts.list("open")
        assert alert["notified"] == ["opened"] and alert["notify_error"] is None


async def _handoffs(sessions, team: str, moments: list[datetime]) -> str:
    """Episodes of one new conversation starting at `moments`; its id."""
    conversation = await make_conversation(sessions, team=team)
    async with sessions.begin() as session:
        session.add_all(
            KpiEpisode(
                conversation_pk=conversation["id"],
                seq=index + 1,
                started_at=moment,
                team=team,
                priority_level=3,
                wait_seconds=0,
                queued_seconds=0,
                handle_seconds=0,
                waiting_customer_seconds=0,
                snoozed_seconds=0,
                agent_replies=0,
                next_responses=0,
                next_response_seconds=0,
                next_response_breaches=0,
                transfers=0,
                reopen=False,
                reopened=False,
                abandoned=False,
                fcr=False,
            )
            for index, moment in enumerate(moments)
        )
    return conversation["id"]


async def test_volume_spike_against_the_same_hour_of_earlier_weeks(sessions):
    now = datetime(2026, 11, 25, 14, 10, tzinfo=timezone.utc)
    rule = SpikeRule(factor=3.0, min_volume=20, window=timedelta(minutes=15), weeks=4)
    usual = [now - timedelta(weeks=w, minutes=m) for w in (1, 2, 3, 4) for m in range(1, 11)]
    await _handoffs(sessions, "billing", usual)  # 10 per window in earlier weeks
    await _handoffs(sessions, "devices", [now - timedelta(weeks=1, minutes=5)])
    async with aiohttp.ClientSession() as http:
        alerts = service(sessions, http, rule=rule)
        assert await alerts.spikes(now) == []
        burst = [now - timedelta(seconds=10 * i + 1) for i in range(40)]
        await _handoffs(sessions, "billing", burst[:25])  # 25 against 10: 2.5x, no spike
        assert await alerts.spikes(now) == []
        bursting = await _handoffs(sessions, "devices", burst)  # 40 against 0.25 a window
        (found,) = await alerts.spikes(now)
        assert (found.kind, found.team, found.details["volume"]) == ("volume_spike", "devices", 40)
        assert found.conversation_ids == [bursting]
        assert await alerts.round(now) == [("opened", "volume_spike:devices")]
        assert await alerts.round(now + timedelta(minutes=1)) == []
        assert await alerts.round(now + timedelta(minutes=30)) == [
            ("cleared", "volume_spike:devices")
        ]


def test_alert_settings_are_checked_with_the_variable_named():
    env = {"ALERT_WEBHOOK_URL": "https://hooks.example/x", "ALERT_WEBHOOK_SECRET": "short"}
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_SECRET"):
        KpiSettings.from_env(env).validated()
    with pytest.raises(SettingsError, match="SLA_WARNING_RATIO"):
        KpiSettings.from_env({"SLA_WARNING_RATIO": "1.5"}).validated()
    with pytest.raises(SettingsError, match="SPIKE_FACTOR"):
        KpiSettings.from_env({"SPIKE_FACTOR": "lots"})
    assert KpiSettings.from_env({}).validated().webhook_url == ""
