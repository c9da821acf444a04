"""Canned replies: a library per team (or for every team) that supervisors edit, with
`{placeholders}` filled from the conversation when an agent inserts one. The filled text goes
into the agent's reply box, never straight to the customer: the agent always sends it.

A placeholder without a value in this conversation (no order reference collected, say) is filled
with a visible marker such as `[order reference]` and named in `missing`, so the agent sees what
to complete before sending.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Forbidden, Invalid, NotFound
from handoff.models import CannedReply, Conversation, utc_now
from handoff.repositories import Agents, CannedReplies
from handoff.roles import Role
from handoff.services.auth import Principal
from handoff.services.views import load_row

MAX_TEXT = 4000
LIBRARY_FILE = Path(__file__).resolve().parents[1] / "canned_replies.yml"


def _first_name(c: Conversation, agent: Principal) -> str | None:
    return c.customer_name.split()[0] if c.customer_name and c.customer_name.split() else None


def _topic(c: Conversation, agent: Principal) -> str | None:
    return c.triage_topic.replace("_", " ") if c.triage_topic else None


# name -> its value in a conversation, for the agent inserting the reply
PLACEHOLDERS: dict[str, Callable[[Conversation, Principal], str | None]] = {
    "customer_first_name": _first_name,
    "customer_name": lambda c, agent: c.customer_name,
    "order_reference": lambda c, agent: c.triage_reference,
    "device": lambda c, agent: c.triage_device_name,
    "topic": _topic,
    "agent_name": lambda c, agent: agent.name.split()[0] if agent.name.split() else agent.name,
}


def placeholders_in(text: str) -> list[str]:
    """The placeholder names `text` uses; `Invalid` for an unknown name or a stray brace."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        raise Invalid(
            f"text has a stray brace ({error}); write placeholders as {{name}}.",
            "invalid_placeholder",
        ) from error
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        raise Invalid(
            f"Unknown placeholder(s) {', '.join(unknown)}; known: {', '.join(PLACEHOLDERS)}.",
            "unknown_placeholder",
        )
    return names


class ReplyFields(BaseModel):
    """A canned reply as supervisors write it (API body and each entry of the YAML library)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    team: str | None = Field(default=None, max_length=64)
    shortcut: str | None = Field(default=None, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    language: str = Field(default="en", min_length=2, max_length=20)
    # triage topics it answers, for suggested responses (empty: any topic)
    topics: list[Annotated[str, Field(max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default_factory=list, max_length=20
    )

    @field_validator("text")
    @classmethod
    def known_placeholders(cls, value: str) -> str:
        try:
            placeholders_in(value)
        except Invalid as error:
            raise ValueError(error.message) from error
        return value


def parse_fields(data: Mapping[str, Any], where: str = "body") -> ReplyFields:
    """Validated fields; `Invalid` names the field (and `where`: the body or a library entry)."""
    try:
        return ReplyFields.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "entry"
        message = first["msg"].removeprefix("Value error, ")
        raise Invalid(f"{where}: {field}: {message}", "invalid_canned_reply") from error


def load_library(path: Path) -> list[ReplyFields]:
    """The YAML library (`replies:` list); errors name the entry (number and title) and field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise Invalid(f"{path}: not valid YAML ({error})", "invalid_library") from error
    entries = document.get("replies") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise Invalid(f"{path}: expected a top-level 'replies:' list", "invalid_library")
    replies = []
    for number, entry in enumerate(entries, start=1):
        title = entry.get("title") if isinstance(entry, dict) else None
        where = f"{path}: reply {number}" + (f" ({title!r})" if title else "")
        if not isinstance(entry, dict):
            raise Invalid(f"{where}: expected a mapping", "invalid_canned_reply")
        replies.append(parse_fields(entry, where))
    return replies


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: list[str]


def render(text: str, conversation: Conversation, agent: Principal) -> Rendered:
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in placeholders_in(text):
        value = PLACEHOLDERS[name](conversation, agent)
        if value:
            values[name] = value
        else:
            values[name] = f"[{name.replace('_', ' ')}]"
            missing.append(name)
    return Rendered(text.format_map(values), sorted(set(missing)))


def reply_view(row: CannedReply) -> views.JSON:
    return {
        "id": row.id,
        "title": row.title,
        "text": row.text,
        "team": row.team_id,
        "shortcut": row.shortcut,
        "language": row.language,
        "topics": list(row.topics or []),
        "placeholders": sorted(set(placeholders_in(row.text))),
        "updated_at": views.iso(row.updated_at),
    }


def _manager(agent: Principal) -> bool:
    return agent.role.at_least(Role.SUPERVISOR)


class CannedReplyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def search(
        self, agent: Principal, text: str | None = None, team: str | None = None
    ) -> list[views.JSON]:
        """What `agent` may insert: their teams' replies and every team's (supervisors: all)."""
        teams: set[str] | None = None if _manager(agent) else set(agent.teams)
        if team is not None:
            if teams is not None and team not in teams:
                raise Forbidden(f"You are not in team {team!r}.", "not_in_team")
            teams = {team}
        async with self.sessions() as session:
            rows = await CannedReplies(session).find(teams, (text or "").strip() or None)
        return [reply_view(row) for row in rows]

    async def create(self, agent: Principal, data: Mapping[str, Any]) -> views.JSON:
        fields = parse_fields(data)
        async with self.sessions.begin() as session:
            row = CannedReply(updated_by_agent_id=agent.id)
            await self._apply(session, row, fields)
            CannedReplies(session).add(row)
            await session.flush()
            return reply_view(row)

    async def update(self, agent: Principal, reply_id: str, data: Mapping[str, Any]) -> views.JSON:
        fields = parse_fields(data)
        async with self.sessions.begin() as session:
            row = await self._load(session, reply_id)
            await self._apply(session, row, fields)
            row.updated_by_agent_id = agent.id
            return reply_view(row)

    async def delete(self, reply_id: str) -> None:
        async with self.sessions.begin() as session:
            replies = CannedReplies(session)
            await replies.remove(await self._load(session, reply_id))

    async def fill(self, agent: Principal, reply_id: str, conversation_pk: str) -> views.JSON:
        """The reply's text filled for this conversation, for the agent's reply box."""
        async with self.sessions() as session:
            row = await self._load(session, reply_id)
            if not (_manager(agent) or row.team_id is None or row.team_id in agent.teams):
                raise Forbidden("This reply belongs to another team's library.", "not_in_team")
            rendered = render(row.text, await load_row(session, conversation_pk), agent)
        return {"id": row.id, "text": rendered.text, "missing": rendered.missing}

    async def import_library(self, replies: list[ReplyFields]) -> tuple[int, int]:
        """Upsert by (team, title): (created, updated). Safe to run again."""
        created = updated = 0
        async with self.sessions.begin() as session:
            repository = CannedReplies(session)
            for fields in replies:
                existing = await repository.by_title(fields.team, fields.title)
                row = existing or CannedReply()
                await self._apply(session, row, fields)
                if existing is None:
                    repository.add(row)
                    created += 1
                else:
                    updated += 1
        return created, updated

    async def _load(self, session: AsyncSession, reply_id: str) -> CannedReply:
        row = await CannedReplies(session).get(reply_id)
        if row is None:
            raise NotFound(f"No canned reply {reply_id!r}.", "canned_reply_not_found")
        return row

    async def _apply(self, session: AsyncSession, row: CannedReply, fields: ReplyFields) -> None:
        if fields.team is not None and await Agents(session).team(fields.team) is None:
            raise Invalid(f"No team {fields.team!r}.", "unknown_team")
        row.title, row.text, row.team_id = fields.title, fields.text, fields.team
        row.shortcut, row.language, row.updated_at = fields.shortcut, fields.language, utc_now()
        row.topics = sorted(set(fields.topics))
