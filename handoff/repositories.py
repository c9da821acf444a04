"""Queries and statements of the handoff store, on a caller's session (the caller owns the
transaction). Conditional UPDATEs return whether they matched, so the database decides races."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import String, cast, delete, exists, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from handoff.db import affected_rows, insert_for
from handoff.failures import Rejected
from handoff.lines import Line
from handoff.models import (
    Agent,
    AgentSession,
    AgentTeam,
    Assignment,
    CannedReply,
    Conversation,
    DeadLetter,
    IngestCursor,
    JobLease,
    LoginFailure,
    Message,
    Note,
    Team,
    new_id,
    utc_now,
)
from handoff.states import QueueFilter, Status

NEVER = datetime(9999, 12, 31, tzinfo=timezone.utc)  # sorts "no time" last
QueueKey = tuple[int, datetime, datetime, str]


def queue_key(row: Conversation) -> QueueKey:
    """A conversation's place in the queue order (`Conversations.queue`)."""
    return (row.priority_level, row.sla_due_at or NEVER, row.queued_at or NEVER, row.id)


def status_in(statuses: Iterable[Status]) -> ColumnElement[bool]:
    return Conversation.status.in_([status.value for status in statuses])


class Conversations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, conversation_pk: str) -> Conversation | None:
        return await self.session.get(Conversation, conversation_pk, populate_existing=True)

    async def by_rasa_id(self, conversation_id: str) -> Conversation | None:
        query = select(Conversation).where(Conversation.conversation_id == conversation_id)
        return (await self.session.scalars(query.execution_options(populate_existing=True))).first()

    async def id_of(self, conversation_id: str) -> str | None:
        """The id of the conversation with this Rasa id, if there is one."""
        query = select(Conversation.id).where(Conversation.conversation_id == conversation_id)
        return await self.session.scalar(query)

    async def ensure(self, conversation_id: str, channel: str | None, at: datetime) -> str:
        """The id of the conversation with this Rasa id, created (status bot) if new."""
        statement = (
            insert_for(self.session, Conversation)
            .values(
                id=new_id(),
                conversation_id=conversation_id,
                channel=channel,
                customer_id=conversation_id,
                status=Status.BOT.value,
                created_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing(index_elements=["conversation_id"])
        )
        await self.session.execute(statement)
        query = select(Conversation.id).where(Conversation.conversation_id == conversation_id)
        return (await self.session.execute(query)).scalar_one()

    async def update_where(self, conversation_pk: str, *conditions: Any, **values: Any) -> bool:
        """Apply `values` (and bump the version) if the row still matches `conditions`."""
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation_pk, *conditions)
            .values(version=Conversation.version + 1, updated_at=utc_now(), **values)
            .execution_options(synchronize_session=False)
        )
        return await affected_rows(self.session, statement) == 1

    async def queue(
        self, where: QueueFilter, limit: int | None = None, after: QueueKey | None = None
    ) -> Sequence[Conversation]:
        """In queue order (priority, SLA due time, none last, queueing time, id); a page of
        `limit` after the row whose `queue_key` is `after` (a keyset page: stable while
        conversations arrive and leave)."""
        query = select(Conversation).where(Conversation.status == where.status.value)
        if where.team:
            query = query.where(Conversation.team == where.team)
        if where.mode:
            query = query.where(Conversation.mode == where.mode)
        key: tuple[Any, ...] = (  # the columns the keyset pages on
            Conversation.priority_level,
            func.coalesce(Conversation.sla_due_at, NEVER),
            func.coalesce(Conversation.queued_at, NEVER),
            Conversation.id,
        )
        if after is not None:
            bound = (literal(value, column.type) for value, column in zip(after, key, strict=True))
            query = query.where(tuple_(*key) > tuple_(*bound))
        query = query.order_by(*key)
        if limit is not None:
            query = query.limit(limit)
        return (await self.session.scalars(query)).all()

    async def due_for_sla(self, until: datetime) -> Sequence[Conversation]:
        """Conversations without a first response whose SLA is due by `until`, not yet flagged
        (a snoozed conversation's SLA is paused)."""
        query = select(Conversation).where(
            Conversation.status.in_([Status.QUEUED.value, Status.ASSIGNED.value]),
            Conversation.first_response_at.is_(None),
            Conversation.snoozed_at.is_(None),
            Conversation.sla_due_at.is_not(None),
            Conversation.sla_due_at <= until,
            Conversation.sla_breached_at.is_(None),
        )
        return (await self.session.scalars(query)).all()

    async def snoozed_until(self, now: datetime) -> Sequence[Conversation]:
        """Snoozed conversations whose time has come, earliest first."""
        query = (
            select(Conversation)
            .where(Conversation.snoozed_until.is_not(None), Conversation.snoozed_until <= now)
            .order_by(Conversation.snoozed_until)
        )
        return (await self.session.scalars(query)).all()

    async def awaiting_customer(
        self, answered_before: datetime
    ) -> Sequence[tuple[Conversation, datetime]]:
        """Open, awake conversations whose latest person's line is an agent's (one the channel
        did not refuse) from before `answered_before`, with that line's time: the customer has
        not answered since."""
        agent_at = (
            select(Message.conversation_id, func.max(Message.created_at).label("at"))
            .where(Message.author_type == "agent", _not_failed())
            .group_by(Message.conversation_id)
            .subquery()
        )
        customer_at = (
            select(Message.conversation_id, func.max(Message.created_at).label("at"))
            .where(Message.author_type == "customer")
            .group_by(Message.conversation_id)
            .subquery()
        )
        query = (
            select(Conversation, agent_at.c.at)
            .join(agent_at, agent_at.c.conversation_id == Conversation.id)
            .outerjoin(customer_at, customer_at.c.conversation_id == Conversation.id)
            .where(
                status_in((Status.QUEUED, Status.ASSIGNED)),
                Conversation.snoozed_at.is_(None),
                agent_at.c.at <= answered_before,
                or_(customer_at.c.at.is_(None), customer_at.c.at < agent_at.c.at),
            )
            .order_by(agent_at.c.at, Conversation.id)
        )
        return [(row, at) for row, at in (await self.session.execute(query)).all()]


def _not_failed() -> ColumnElement[bool]:
    return or_(Message.delivery_status.is_(None), Message.delivery_status != "failed")


def line_values(conversation_pk: str, line: Line, seq: int, **extra: Any) -> dict[str, Any]:
    """The `messages` row of a transcript line (`extra`: e.g. its id, delivery status)."""
    frustration = line.frustration
    return {
        "id": extra.pop("id", None) or new_id(),
        "seq": seq,
        "conversation_id": conversation_pk,
        "dedupe_key": line.dedupe_key,
        "author_type": line.author_type,
        "author_name": line.author_name,
        "text": line.text,
        "attachments": line.attachments,
        "channel_message_id": line.channel_message_id,
        "intent": line.intent,
        "reaction_to": line.reaction_to,
        "notice_kind": line.notice_kind,
        "frustration_score": frustration.score if frustration else None,
        "frustration_signals": list(frustration.signals) if frustration else [],
        "created_at": line.created_at,
        **extra,
    }


class Messages:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_line(self, conversation_pk: str, line: Line, **extra: Any) -> str | None:
        """Insert the line unless its dedupe key is already in the conversation; the new id.

        The line gets the conversation's next `seq`, taken by an UPDATE of the conversation's
        row: its lock is held to the commit, so lines commit in `seq` order and a client that
        read up to `seq` N never sees a line below N appear later (a refused duplicate leaves
        a gap, which is harmless)."""
        seq = await self.session.scalar(
            update(Conversation)
            .where(Conversation.id == conversation_pk)
            .values(last_seq=Conversation.last_seq + 1)
            .returning(Conversation.last_seq)
            .execution_options(synchronize_session=False)
        )
        if seq is None:
            raise LookupError(f"no conversation {conversation_pk} for the line")
        statement = (
            insert_for(self.session, Message)
            .values(line_values(conversation_pk, line, seq, **extra))
            .on_conflict_do_nothing(index_elements=["conversation_id", "dedupe_key"])
            .returning(Message.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, message_id: str) -> Message | None:
        return await self.session.get(Message, message_id, populate_existing=True)

    async def of(self, conversation_pk: str) -> Sequence[Message]:
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_pk)
            .order_by(Message.created_at, Message.id)
        )
        return (await self.session.scalars(query)).all()

    async def after(self, conversation_pk: str, seq: int, limit: int) -> Sequence[Message]:
        """Up to `limit` lines stored after `seq`, in `seq` order (a client's resync)."""
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_pk, Message.seq > seq)
            .order_by(Message.seq)
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    async def latest_customer(self, conversation_pk: str, at: datetime) -> Message | None:
        query = (
            select(Message)
            .where(
                Message.conversation_id == conversation_pk,
                Message.author_type == "customer",
                Message.created_at <= at,
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()

    async def latest_of(self, conversation_pks: Iterable[str]) -> dict[str, Message]:
        ids = list(conversation_pks)
        if not ids:
            return {}
        rank = (
            func.row_number()
            .over(
                partition_by=Message.conversation_id,
                order_by=(Message.created_at.desc(), Message.id.desc()),
            )
            .label("rank")
        )
        ranked = select(Message.id, rank).where(Message.conversation_id.in_(ids)).subquery()
        query = select(Message).join(ranked, ranked.c.id == Message.id).where(ranked.c.rank == 1)
        return {message.conversation_id: message for message in await self.session.scalars(query)}

    async def last_customer_at(self, conversation_pks: Iterable[str]) -> dict[str, datetime]:
        """Each conversation's latest customer line time (for the channels' reply windows)."""
        ids = list(conversation_pks)
        if not ids:
            return {}
        query = (
            select(Message.conversation_id, func.max(Message.created_at))
            .where(Message.conversation_id.in_(ids), Message.author_type == "customer")
            .group_by(Message.conversation_id)
        )
        return {pk: at for pk, at in (await self.session.execute(query)).all() if at is not None}

    async def customer_since(self, conversation_pk: str, since: datetime) -> Message | None:
        """The customer's first line after `since` (a resolution)."""
        query = (
            select(Message)
            .where(
                Message.conversation_id == conversation_pk,
                Message.author_type == "customer",
                Message.created_at > since,
            )
            .order_by(Message.created_at, Message.seq)
            .limit(1)
        )
        return await self.session.scalar(query)

    async def update(self, message_id: str, **values: Any) -> None:
        await self.session.execute(update(Message).where(Message.id == message_id).values(**values))

    async def by_channel_id(self, conversation_id: str, channel_message_id: str) -> str | None:
        """The id of the line we delivered as `channel_message_id` in the conversation with this
        Rasa id (lines without a delivery status, e.g. the customer's, never match)."""
        query = (
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.conversation_id == conversation_id,
                Message.channel_message_id == channel_message_id,
                Message.delivery_status.is_not(None),
            )
            .limit(1)
        )
        return await self.session.scalar(query)

    async def set_delivery_status(
        self, message_id: str, status: str, error: str | None, replaces: Collection[str]
    ) -> bool:
        """Set the delivery status if the current one is in `replaces`; whether it was."""
        statement = (
            update(Message)
            .where(Message.id == message_id, Message.delivery_status.in_(list(replaces)))
            .values(delivery_status=status, delivery_error=error)
            .execution_options(synchronize_session=False)
        )
        return await affected_rows(self.session, statement) == 1


class Agents:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, agent_id: str) -> Agent | None:
        return await self.session.get(Agent, agent_id)

    async def by_email(self, email: str) -> Agent | None:
        query = select(Agent).where(func.lower(Agent.email) == email.strip().lower())
        return (await self.session.scalars(query)).first()

    async def names(self, agent_ids: Iterable[str | None]) -> dict[str, str]:
        ids = {agent_id for agent_id in agent_ids if agent_id}
        if not ids:
            return {}
        rows = await self.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids)))
        return dict(rows.tuples().all())

    async def active(self) -> Sequence[Agent]:
        query = select(Agent).where(Agent.active.is_(True)).order_by(Agent.name, Agent.id)
        return (await self.session.scalars(query)).all()

    async def teams_of(self, agent_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(agent_ids)
        rows = await self.session.execute(
            select(AgentTeam.agent_id, AgentTeam.team_id)
            .where(AgentTeam.agent_id.in_(ids))
            .order_by(AgentTeam.team_id)
        )
        teams: dict[str, list[str]] = {agent_id: [] for agent_id in ids}
        for agent_id, team_id in rows.tuples():
            teams[agent_id].append(team_id)
        return teams

    async def all_teams(self) -> Sequence[Team]:
        return (await self.session.scalars(select(Team).order_by(Team.id))).all()

    async def team(self, team_id: str) -> Team | None:
        return await self.session.get(Team, team_id)


class Sessions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, token_hash: str) -> AgentSession | None:
        return await self.session.get(AgentSession, token_hash)

    async def remove(self, token_hash: str) -> None:
        await self.session.execute(
            delete(AgentSession).where(AgentSession.token_hash == token_hash)
        )

    async def remove_expired(self, now: datetime) -> int:
        statement = delete(AgentSession).where(AgentSession.expires_at <= now)
        return await affected_rows(self.session, statement)


class LoginFailures:
    """Failed logins by (scope, subject): the login throttle's sliding windows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, at: datetime, subjects: Iterable[tuple[str, str]]) -> None:
        self.session.add_all(
            LoginFailure(scope=scope, subject=subject, failed_at=at) for scope, subject in subjects
        )

    async def latest(self, scope: str, subject: str, since: datetime, limit: int) -> list[datetime]:
        """The times of the `limit` latest failures after `since`, newest first."""
        query = (
            select(LoginFailure.failed_at)
            .where(
                LoginFailure.scope == scope,
                LoginFailure.subject == subject,
                LoginFailure.failed_at > since,
            )
            .order_by(LoginFailure.failed_at.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def clear(self, scope: str, subject: str) -> None:
        await self.session.execute(
            delete(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.subject == subject)
        )

    async def remove_older(self, before: datetime) -> int:
        statement = delete(LoginFailure).where(LoginFailure.failed_at <= before)
        return await affected_rows(self.session, statement)


class History:
    """Assignment history and notes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, conversation_pk: str, action: str, **values: Any) -> None:
        self.session.add(Assignment(conversation_id=conversation_pk, action=action, **values))

    async def of(self, conversation_pk: str) -> Sequence[Assignment]:
        query = (
            select(Assignment)
            .where(Assignment.conversation_id == conversation_pk)
            .order_by(Assignment.id)
        )
        return (await self.session.scalars(query)).all()

    async def notes(self, conversation_pk: str) -> Sequence[Note]:
        query = (
            select(Note)
            .where(Note.conversation_id == conversation_pk)
            .order_by(Note.created_at, Note.id)
        )
        return (await self.session.scalars(query)).all()


class Cursors:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, source: str) -> str | None:
        return await self.session.scalar(
            select(IngestCursor.position).where(IngestCursor.source == source)
        )

    async def put(self, source: str, position: str) -> None:
        now = utc_now()
        statement = insert_for(self.session, IngestCursor).values(
            source=source, position=position, updated_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["source"], set_={"position": position, "updated_at": now}
            )
        )


class DeadLetters:
    """Events set aside by the ingestion (`handoff.failures.Rejected`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, source: str, rejected: Rejected) -> None:
        """Keep a rejected event; the same payload from the same source again counts an attempt
        (a source that redelivers it creates no second letter)."""
        now = utc_now()
        payload, truncated = rejected.stored_payload
        statement = insert_for(self.session, DeadLetter).values(
            source=source,
            fingerprint=rejected.fingerprint,
            conversation_id=rejected.conversation_id,
            event_type=rejected.event_type,
            payload=payload,
            truncated=truncated,
            error=rejected.error,
            status="open",
            attempts=1,
            first_seen_at=now,
            last_seen_at=now,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["source", "fingerprint"],
                set_={
                    "attempts": DeadLetter.attempts + 1,
                    "last_seen_at": now,
                    "error": rejected.error,
                },
            )
        )

    async def get(self, letter_id: int) -> DeadLetter | None:
        return await self.session.get(DeadLetter, letter_id, populate_existing=True)

    async def page(
        self, status: str | None, limit: int, offset: int
    ) -> tuple[int, Sequence[DeadLetter]]:
        """How many letters have `status` (any: None), and a page of them, oldest first."""
        where = [] if status is None else [DeadLetter.status == status]
        count = await self.session.scalar(
            select(func.count()).select_from(DeadLetter).where(*where)
        )
        query = select(DeadLetter).where(*where).order_by(DeadLetter.id).limit(limit).offset(offset)
        return count or 0, (await self.session.scalars(query)).all()

    async def open_ids(self) -> Sequence[int]:
        query = select(DeadLetter.id).where(DeadLetter.status == "open").order_by(DeadLetter.id)
        return (await self.session.scalars(query)).all()

    async def settle(self, letter_id: int, status: str, error: str | None = None) -> bool:
        """Move an open letter to `status`, counting the attempt; whether it was still open.
        With `error` (a retry that failed again) it stays open with the new error."""
        values: dict[str, Any] = {"status": status, "last_seen_at": utc_now()}
        if error is not None:
            values["error"] = error
        if status != "discarded":
            values["attempts"] = DeadLetter.attempts + 1
        statement = (
            update(DeadLetter)
            .where(DeadLetter.id == letter_id, DeadLetter.status == "open")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return await affected_rows(self.session, statement) == 1


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """`text` anywhere in `column`, case-insensitive (LIKE with its wildcards escaped)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


class CannedReplies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, reply_id: str) -> CannedReply | None:
        return await self.session.get(CannedReply, reply_id)

    def add(self, reply: CannedReply) -> None:
        self.session.add(reply)

    async def remove(self, reply: CannedReply) -> None:
        await self.session.delete(reply)

    async def find(
        self, teams: Collection[str] | None, text: str | None = None, limit: int = 200
    ) -> Sequence[CannedReply]:
        """Replies of `teams` and those for every team (`teams` None: all), matching `text` in
        the title, shortcut or body (case-insensitive), titles in order."""
        query = select(CannedReply).order_by(CannedReply.title, CannedReply.id).limit(limit)
        if teams is not None:
            query = query.where(
                or_(CannedReply.team_id.is_(None), CannedReply.team_id.in_(list(teams)))
            )
        if text:
            columns = (CannedReply.title, CannedReply.shortcut, CannedReply.text)
            query = query.where(or_(*(contains(column, text) for column in columns)))
        return (await self.session.scalars(query)).all()

    async def by_title(self, team_id: str | None, title: str) -> CannedReply | None:
        team = CannedReply.team_id.is_(None) if team_id is None else CannedReply.team_id == team_id
        query = select(CannedReply).where(team, CannedReply.title == title)
        return (await self.session.scalars(query)).first()


@dataclass(frozen=True)
class SearchFilter:
    """What agents search conversations by; every field given must match (text: any line)."""

    text: str | None = None
    customer: str | None = None  # name or id
    reference: str | None = None
    tag: str | None = None
    team: str | None = None
    agent_id: str | None = None  # the owner, or anyone it was assigned to before
    channel: str | None = None
    statuses: tuple[Status, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[str, ...] | None = None  # only these conversations (an alert's)


class ConversationSearch:
    """Conversations matching a `SearchFilter`, newest first, in keyset pages (created_at, id)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, where: SearchFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> Sequence[Conversation]:
        query = select(Conversation).where(*self.conditions(where))
        if after is not None:
            query = query.where(tuple_(Conversation.created_at, Conversation.id) < after)
        query = query.order_by(Conversation.created_at.desc(), Conversation.id.desc())
        return (await self.session.scalars(query.limit(limit))).all()

    @staticmethod
    def conditions(where: SearchFilter) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if where.text:
            line = exists().where(
                Message.conversation_id == Conversation.id, contains(Message.text, where.text)
            )
            found.append(or_(line, contains(Conversation.triage_description, where.text)))
        if where.customer:
            found.append(
                or_(
                    contains(Conversation.customer_name, where.customer),
                    contains(Conversation.customer_id, where.customer),
                )
            )
        if where.reference:
            found.append(contains(Conversation.triage_reference, where.reference))
        if where.tag:  # tags is a JSON list of strings: match one whole element as text
            found.append(contains(cast(Conversation.tags, String), json.dumps(where.tag.lower())))
        if where.team:
            found.append(Conversation.team == where.team)
        if where.channel:
            found.append(Conversation.channel == where.channel)
        if where.agent_id:
            handled = exists().where(
                Assignment.conversation_id == Conversation.id,
                Assignment.to_agent_id == where.agent_id,
            )
            found.append(or_(Conversation.assigned_agent_id == where.agent_id, handled))
        if where.statuses:
            found.append(status_in(where.statuses))
        if where.since:
            found.append(Conversation.created_at >= where.since)
        if where.until:
            found.append(Conversation.created_at < where.until)
        if where.ids is not None:
            found.append(Conversation.id.in_(where.ids))
        return found


class Leases:
    """Job leases (`JobLease`): one holder at a time, until its lease runs out."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Take or renew the lease `name` for `holder` until `until`; False while another
        holder's lease has not run out at `now`. One statement, so the database decides."""
        statement = insert_for(self.session, JobLease).values(
            name=name, holder=holder, expires_at=until
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": until},
            where=(JobLease.holder == holder) | (JobLease.expires_at <= now),
        ).returning(JobLease.holder)
        return (await self.session.execute(upsert)).scalar_one_or_none() == holder
