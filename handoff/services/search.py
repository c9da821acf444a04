"""Conversation search for agents: by text, customer, reference, tag, team, agent, status and
date, newest first, in pages. A page's `next` cursor is opaque to clients; it carries the last
conversation's (created_at, id), so pages stay stable while new conversations arrive."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Invalid
from handoff.repositories import ConversationSearch, SearchFilter
from handoff.services.views import conversation_views
from handoff.states import Status

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
TEXT_FIELDS = ("text", "customer", "reference", "tag", "team", "agent_id", "channel")


def encode_cursor(*parts: str) -> str:
    """An opaque page cursor of the last row's sort key (times as ISO 8601, ids)."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The `count` parts of a cursor this service gave; `Invalid` for anything else."""
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise Invalid("cursor is not one this service gave.", "invalid_cursor") from error
    if len(parts) != count:
        raise Invalid("cursor is not one this service gave.", "invalid_cursor")
    return parts


def cursor_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise Invalid("cursor is not one this service gave.", "invalid_cursor") from error
    if moment.tzinfo is None:
        raise Invalid("cursor is not one this service gave.", "invalid_cursor")
    return moment


def _moment(args: Mapping[str, str], name: str) -> datetime | None:
    value = args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise Invalid(f"{name} must be an ISO 8601 date or time.", "invalid_date") from error
    if moment.tzinfo is None:
        raise Invalid(f"{name} needs a time zone (e.g. 2026-12-01T00:00:00Z).", "invalid_date")
    return moment


def parse_filter(args: Mapping[str, str]) -> SearchFilter:
    """The filter from query parameters; `Invalid` names the parameter that is wrong."""
    texts: dict[str, Any] = {name: (args.get(name) or "").strip() or None for name in TEXT_FIELDS}
    for name, value in texts.items():
        if value is not None and len(value) > 200:
            raise Invalid(f"{name} is longer than 200 characters.", "too_long")
    statuses = []
    for value in filter(None, (args.get("status") or "").split(",")):
        try:
            statuses.append(Status(value))
        except ValueError as error:
            known = ", ".join(status.value for status in Status)
            raise Invalid(
                f"status {value!r}: expected one of {known}.", "invalid_status"
            ) from error
    since, until = _moment(args, "since"), _moment(args, "until")
    if since and until and since >= until:
        raise Invalid("since must be before until.", "invalid_date")
    return SearchFilter(**texts, statuses=tuple(statuses), since=since, until=until)


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise Invalid(f"limit must be a whole number from 1 to {maximum}.", "invalid_limit")
    return int(value)


class SearchService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def search(self, args: Mapping[str, str]) -> views.JSON:
        where, limit = parse_filter(args), parse_limit(args.get("limit"))
        after = None
        if args.get("cursor"):
            moment, conversation_pk = decode_cursor(args["cursor"], 2)
            after = (cursor_time(moment), conversation_pk)
        async with self.sessions() as session:
            rows = await ConversationSearch(session).page(where, limit + 1, after)
            found = await conversation_views(session, rows[:limit])
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return {
            "conversations": found,
            "next": encode_cursor(last.created_at.isoformat(), last.id) if last else None,
        }
