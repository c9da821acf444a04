"""Retention: ended, inactive transcripts are anonymised or deleted after RETENTION_DAYS; the
clock is a parameter, so nothing sleeps."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from handoff.app import create_app
from handoff.lines import Line
from handoff.models import Assignment, Conversation, IntakeRequest, Message, Note
from handoff.repositories import Messages
from handoff.services.retention import RetentionPolicy, apply_retention, run_retention
from handoff.settings import REPO_ROOT, Settings, SettingsError
from handoff.states import Status
from harness.service import serving
from tests.handoff.transcripts import count_rows, store_transcript

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ANONYMISE = RetentionPolicy(days=30, mode="anonymise")
DELETE = RetentionPolicy(days=30, mode="delete")
OLD = NOW - timedelta(days=45)


async def transcript_of(sessions, pk):
    async with sessions() as session:
        conversation = await session.get(Conversation, pk)
        messages = (
            await session.scalars(
                select(Message).where(Message.conversation_id == pk).order_by(Message.created_at)
            )
        ).all()
        notes = (await session.scalars(select(Note).where(Note.conversation_id == pk))).all()
        transfers = (
            await session.scalars(select(Assignment).where(Assignment.conversation_id == pk))
        ).all()
    return conversation, messages, notes, transfers


async def test_anonymise_removes_what_identifies_the_customer_and_keeps_the_kpis(sessions):
    old = await store_transcript(sessions, OLD)
    report = await apply_retention(sessions, ANONYMISE, NOW)
    assert (report.conversations, report.messages, report.notes) == (1, 3, 1)

    conversation, messages, notes, transfers = await transcript_of(sessions, old.pk)
    assert conversation.conversation_id == f"anonymised:{old.pk}"
    assert (conversation.customer_id, conversation.customer_name) == (None, None)
    assert conversation.triage_description is None and conversation.triage_reference is None
    assert conversation.anonymised_at == NOW
    # what the KPIs read is still there
    assert (conversation.status, conversation.team, conversation.tags) == (
        "resolved",
        "billing",
        ["billing"],
    )
    assert conversation.resolved_at == OLD + timedelta(minutes=10)
    assert [m.author_type for m in messages] == ["customer", "bot", "agent"]
    assert [m.created_at for m in messages] == [OLD + timedelta(minutes=n) for n in (1, 2, 3)]
    assert messages[0].intent == "billing_problem" and messages[0].frustration_score == 0.4
    assert messages[2].delivery_status == "read" and messages[2].author_name == "Dana"
    # and nothing the customer wrote or that names them
    assert all(m.text == "" and m.attachments == [] for m in messages)
    assert all(m.channel_message_id is None for m in messages)
    assert messages[0].author_name is None
    assert [n.text for n in notes] == [""] and [t.note for t in transfers] == [None]
    assert (await count_rows(sessions, old.pk))["intake_requests"] == 0
    async with sessions() as session:
        stored = await session.scalar(select(Conversation).where(Conversation.id == old.pk))
    assert old.sender_id not in repr(stored.__dict__)

    again = await apply_retention(sessions, ANONYMISE, NOW + timedelta(days=1))
    assert again.conversations == 0


async def test_only_ended_and_inactive_transcripts_are_due(sessions):
    recent = await store_transcript(sessions, NOW - timedelta(days=10))
    queued = await store_transcript(sessions, OLD, status=Status.QUEUED)
    assigned = await store_transcript(sessions, OLD, status=Status.ASSIGNED)
    back_with_bot = await store_transcript(sessions, OLD, status=Status.BOT)
    wrote_again = await store_transcript(sessions, OLD)
    async with sessions.begin() as session:
        line = Line(wrote_again.sender_id, "user:late", "customer", "hello again", NOW)
        await Messages(session).add_line(wrote_again.pk, line)

    report = await apply_retention(sessions, DELETE, NOW)

    assert report.conversations == 1
    assert (await count_rows(sessions, back_with_bot.pk))["conversations"] == 0
    for kept in (recent, queued, assigned, wrote_again):
        assert (await count_rows(sessions, kept.pk))["messages"] >= 3


async def test_delete_removes_the_transcript_with_every_row_that_hangs_on_it(sessions):
    old = await store_transcript(sessions, OLD)
    report = await apply_retention(sessions, DELETE, NOW)
    assert (report.conversations, report.messages, report.notes) == (1, 3, 1)
    assert await count_rows(sessions, old.pk) == {
        "conversations": 0,
        "messages": 0,
        "notes": 0,
        "assignments": 0,
        "intake_requests": 0,
    }


async def test_dry_run_counts_what_a_run_then_changes_and_changes_nothing(sessions):
    for _ in range(3):
        await store_transcript(sessions, OLD)
    await store_transcript(sessions, NOW - timedelta(days=1))
    dry = await apply_retention(sessions, DELETE, NOW, dry_run=True)
    assert (dry.conversations, dry.messages, dry.notes) == (3, 9, 3)
    assert "would be deleted" in dry.summary()
    async with sessions() as session:
        assert len((await session.scalars(select(Conversation))).all()) == 4
    real = await apply_retention(sessions, DELETE, NOW, batch_size=2)  # two batches
    assert (real.conversations, real.messages, real.notes) == (3, 9, 3)


@pytest.mark.parametrize("policy", [ANONYMISE, DELETE], ids=["anonymise", "delete"])
async def test_instances_running_at_once_process_each_transcript_once(sessions, policy):
    for _ in range(12):
        await store_transcript(sessions, OLD)
    reports = await asyncio.gather(
        *(apply_retention(sessions, policy, NOW, batch_size=5) for _ in range(3))
    )
    assert sum(r.conversations for r in reports) == 12
    assert sum(r.messages for r in reports) == 36
    async with sessions() as session:
        left = (await session.scalars(select(Conversation))).all()
        keys = (await session.scalars(select(IntakeRequest))).all()
    assert keys == []
    if policy.mode == "anonymise":
        assert len(left) == 12 and all(c.customer_id is None for c in left)
    else:
        assert left == []


async def test_the_background_task_follows_its_clock(sessions):
    old = await store_transcript(sessions, NOW - timedelta(days=20))
    moments = iter([NOW, NOW + timedelta(days=11)])
    rounds: list[float] = []

    async def sleep(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await run_retention(sessions, DELETE, 3600, clock=lambda: next(moments), sleep=sleep)
    assert rounds == [3600, 3600]
    assert (await count_rows(sessions, old.pk))["conversations"] == 0  # due on the 2nd round


def test_settings_refuse_an_unknown_mode_or_negative_days():
    with pytest.raises(SettingsError, match="RETENTION_MODE"):
        Settings.from_env({"RETENTION_MODE": "shred", "HANDOFF_ENV": "dev"}).validated()
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        Settings.from_env({"RETENTION_DAYS": "-1", "HANDOFF_ENV": "dev"}).validated()
    chosen = Settings.from_env({"RETENTION_DAYS": "90", "RETENTION_MODE": "Delete"})
    assert (chosen.retention_days, chosen.retention_mode) == (90, "delete")


def retention_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli", "retention", *args],
        cwd=REPO_ROOT,
        env={"DATABASE_URL": database_url, "RETENTION_DAYS": "30", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # a subprocess
async def test_cli_dry_run_prints_counts_and_changes_nothing(sessions, database_url):
    old = await store_transcript(sessions, datetime.now(timezone.utc) - timedelta(days=40))
    done = retention_cli(database_url, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "1 conversations, 3 messages, 1 notes would be anonymised" in done.stdout
    assert (await count_rows(sessions, old.pk))["messages"] == 3
    async with sessions() as session:
        assert (await session.get(Conversation, old.pk)).customer_name == "Ana Silva"

    done = retention_cli(database_url, "--mode", "delete")
    assert done.returncode == 0, done.stderr
    assert "1 conversations, 3 messages, 1 notes deleted" in done.stdout
    assert (await count_rows(sessions, old.pk))["conversations"] == 0


async def test_the_service_runs_retention_when_it_is_configured(sessions, settings):
    old = await store_transcript(sessions, datetime.now(timezone.utc) - timedelta(days=45))
    app = create_app(replace(settings, retention_days=30, retention_mode="delete"))
    async with serving(app):
        for _ in range(200):  # the first round runs at start; bounded polling, no fixed sleep
            if (await count_rows(sessions, old.pk))["conversations"] == 0:
                break
            await asyncio.sleep(0.05)
    assert await count_rows(sessions, old.pk) == dict.fromkeys(
        await count_rows(sessions, old.pk), 0
    )
