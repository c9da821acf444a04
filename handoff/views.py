"""JSON shapes of the API (docs/handoff-service.md): conversations, messages, notes, agents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.channel_windows import closed_reason, template_allowed, window_state
from contracts.values import format_time
from handoff.models import Agent, Conversation, Message, Note, Team
from handoff.states import VIEWERS, WITH_PEOPLE, Status, allowed_actions

JSON = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    return format_time(moment) if moment else None


def frustration(score: float | None, signals: Sequence[str]) -> JSON | None:
    return None if score is None else {"score": score, "signals": list(signals)}


def conversation(
    row: Conversation,
    owner_name: str | None,
    last: Message | None,
    now: datetime,
    last_customer_at: datetime | None = None,
) -> JSON:
    waiting = None
    status = Status(row.status)
    if row.queued_at and status in WITH_PEOPLE:
        waiting = max(0, int(((row.first_response_at or now) - row.queued_at).total_seconds()))
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "channel": row.channel,
        "customer": {
            "id": row.customer_id,
            "name": row.customer_name,
            "language": row.customer_language,
        },
        "status": row.status,
        "allowed_actions": {viewer: allowed_actions(status, viewer) for viewer in VIEWERS},
        "priority": {
            "level": row.priority_level,
            "name": row.priority_name,
            "first_response_minutes": row.first_response_minutes,
        },
        "mode": row.mode,
        "team": row.team,
        "tags": list(row.tags),
        "reasons": list(row.reasons),
        "triage": {
            "topic": row.triage_topic,
            "description": row.triage_description,
            "reference": row.triage_reference,
            "mode_preference": row.triage_mode_preference,
            "device_name": row.triage_device_name,
        },
        "frustration": frustration(row.frustration_score, row.frustration_signals),
        "escalation_reason": row.escalation_reason,
        "assigned_agent": (
            {"id": row.assigned_agent_id, "name": owner_name} if row.assigned_agent_id else None
        ),
        "created_at": iso(row.created_at),
        "snooze": (
            {"since": iso(row.snoozed_at), "until": iso(row.snoozed_until), "note": row.snooze_note}
            if row.snoozed_at
            else None
        ),
        "sla_due_at": iso(row.sla_due_at),
        "queued_at": iso(row.queued_at),
        "assigned_at": iso(row.assigned_at),
        "first_response_at": iso(row.first_response_at),
        "resolved_at": iso(row.resolved_at),
        "returned_to_bot_at": iso(row.returned_to_bot_at),
        "resolution": row.resolution,
        "reopen_count": row.reopen_count,
        "reopened_at": iso(row.reopened_at),
        "reply_window": reply_window(row.channel, last_customer_at, now),
        "waiting_seconds": waiting,
        "version": row.version,
        "last_message": (
            {"author_type": last.author_type, "text": last.text, "at": iso(last.created_at)}
            if last
            else None
        ),
    }


def reply_window(channel: str | None, last_customer_at: datetime | None, now: datetime) -> JSON:
    """Whether an agent may write free text now (contracts/channel_windows.py), for the console's
    countdown; web chat is always `open` without an end."""
    state = window_state(channel, last_customer_at, now)
    return {
        "state": state.state,
        "closes_at": iso(state.closes_at),
        "tag": state.tag,
        "template": not state.free_text and template_allowed(channel),
        "reason": None if state.free_text else closed_reason(channel, last_customer_at, now),
        "customer_wrote_at": iso(last_customer_at),
    }


def message(row: Message) -> JSON:
    return {
        "id": row.id,
        "seq": row.seq,
        "author_type": row.author_type,
        "author_name": row.author_name,
        "text": row.text,
        "attachments": list(row.attachments),
        "created_at": iso(row.created_at),
        "channel_message_id": row.channel_message_id,
        "intent": row.intent,
        "frustration": frustration(row.frustration_score, row.frustration_signals),
        "delivery_status": row.delivery_status,
        "delivery_error": row.delivery_error,
        "reaction": (
            {"message_id": row.reaction_to, "emoji": row.text} if row.reaction_to else None
        ),
        "notice_kind": row.notice_kind,
    }


def note(row: Note, names: Mapping[str, str]) -> JSON:
    author = {"id": row.agent_id, "name": names.get(row.agent_id)} if row.agent_id else None
    return {"id": row.id, "text": row.text, "author": author, "created_at": iso(row.created_at)}


def agent(row: Agent, teams: Sequence[str]) -> JSON:
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "role": row.role,
        "teams": list(teams),
    }


def team(row: Team) -> JSON:
    return {"id": row.id, "name": row.name}
