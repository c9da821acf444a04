"""Crisis tools: a supervisor selects open conversations by a filter (text, tag, time range,
channel, the search's other fields, or `alert`: the conversations behind a KPI alert) and tags
them, moves them to a team, sends them one reply, or resolves them, in one action. Every
action is a `bulk_actions` row (the audit log: who, when, the filter, the value, the
conversations and what each one had before); tags and moves can be undone, and an undo only puts
back what the action's value is still on (a conversation moved on since, or a tag removed by
hand, is left alone). A reply and a resolution reached the customer: they cannot be undone.

Each conversation changes in its own conditional UPDATE on the version, so a conversation an
agent changed at the same moment is skipped (and named in `skipped`), never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.db import affected_rows
from handoff.errors import Conflict, Invalid, NotFound
from handoff.live import Broadcaster
from handoff.models import BulkAction, Conversation, KpiAlert, utc_now
from handoff.repositories import Agents, Conversations, ConversationSearch, History, SearchFilter
from handoff.services.auth import Principal
from handoff.services.conversations import ConversationService, checked_text
from handoff.services.search import TEXT_FIELDS, parse_filter
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import conversation_views
from handoff.states import WITH_PEOPLE, Action, Status, transition

ACTIONS = ("tag", "move", "reply", "resolve")
NOT_UNDOABLE = {
    "reply": "A reply was sent; it cannot be taken back.",
    "resolve": "The customers were told their conversations are closed; a customer who writes"
    " again reopens theirs.",
}
FILTER_FIELDS = frozenset({*TEXT_FIELDS, "since", "until", "status", "alert"})
MAX_SELECTED = 1000
PREVIEW = 20
MAX_TAG = 50


def parse_selection(value: Any) -> tuple[SearchFilter, dict[str, str]]:
    """The filter object (search parameters as strings); open conversations unless `status`
    says otherwise. 422 naming the field."""
    if not isinstance(value, dict):
        raise Invalid("filter must be an object of search fields.", "invalid_filter")
    unknown = sorted(set(value) - FILTER_FIELDS)
    if unknown:
        known = ", ".join(sorted(FILTER_FIELDS))
        raise Invalid(f"filter.{unknown[0]}: unknown field; known: {known}.", "invalid_filter")
    wrong = [name for name, given in value.items() if not isinstance(given, str)]
    if wrong:
        raise Invalid(f"filter.{wrong[0]} must be a string.", "invalid_filter")
    given = {name: text for name, text in value.items() if text.strip()}
    where = parse_filter({"status": "queued,assigned", **given})
    if any(Status(s) not in WITH_PEOPLE for s in where.statuses):
        raise Invalid("filter.status: only queued and assigned conversations.", "invalid_filter")
    if not (set(given) - {"status"}):
        raise Invalid("filter needs at least one field besides status.", "invalid_filter")
    return where, given


class BulkActionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        conversations: ConversationService,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.conversations = conversations

    async def preview(self, selection: Any) -> views.JSON:
        where, given = parse_selection(selection)
        async with self.sessions() as session:
            where = await _of_alert(session, where, given)
            rows = await ConversationSearch(session).page(where, MAX_SELECTED + 1)
            shown = await conversation_views(session, rows[:PREVIEW])
        return {
            "count": min(len(rows), MAX_SELECTED),
            "more": len(rows) > MAX_SELECTED,
            "conversations": shown,
        }

    async def run(self, actor: Principal, body: Mapping[str, Any]) -> views.JSON:
        where, given = parse_selection(body.get("filter"))
        action = body.get("action")
        if action not in ACTIONS:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}.", "invalid_action")
        params = await self._params(action, body)
        async with self.sessions() as session:
            where = await _of_alert(session, where, given)
            rows = await ConversationSearch(session).page(where, MAX_SELECTED + 1)
        if len(rows) > MAX_SELECTED:
            raise Invalid(
                f"The filter selects more than {MAX_SELECTED} conversations; narrow it.",
                "too_many",
            )
        changed: list[str] = []
        previous: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        for row in rows:
            try:
                before = await self._apply(action, params, row, actor)
            except Conflict as refused:
                skipped[row.id] = refused.message
                continue
            if before is not None:
                changed.append(row.id)
                previous[row.id] = before
        record = BulkAction(
            agent_id=actor.id,
            action=action,
            selection=given,
            params=params,
            conversation_ids=changed,
            previous=previous if action not in NOT_UNDOABLE else {},
            created_at=utc_now(),
        )
        async with self.sessions.begin() as session:
            session.add(record)
            await session.flush()
            view = await _view(session, record)
        return {**view, "skipped": skipped}

    async def undo(self, bulk_id: str, actor: Principal) -> views.JSON:
        async with self.sessions.begin() as session:
            record = await session.get(BulkAction, bulk_id)
            if record is None:
                raise NotFound(f"No bulk action {bulk_id!r}.", "bulk_action_not_found")
            if record.action in NOT_UNDOABLE:
                raise Conflict(NOT_UNDOABLE[record.action], "not_undoable")
            claimed = await affected_rows(  # one undo, even if two supervisors click
                session,
                update(BulkAction)
                .where(BulkAction.id == bulk_id, BulkAction.undone_at.is_(None))
                .values(undone_at=utc_now(), undone_by_agent_id=actor.id)
                .execution_options(synchronize_session=False),
            )
            if claimed != 1:
                raise Conflict("This bulk action was undone already.", "already_undone")
        restored = []
        for conversation_pk in record.conversation_ids:
            before = record.previous.get(conversation_pk)
            if await self._restore(record, conversation_pk, before, actor):
                restored.append(conversation_pk)
        async with self.sessions() as session:
            view = await _view(session, await session.get(BulkAction, bulk_id))
        return {**view, "restored": restored}

    async def log(self, limit: int = 50) -> views.JSON:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(BulkAction).order_by(BulkAction.created_at.desc()).limit(limit)
            )
            return {"bulk_actions": [await _view(session, row) for row in rows]}

    async def _params(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if action == "tag":
            tag = body.get("tag")
            if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG:
                raise Invalid(f"tag must be 1..{MAX_TAG} characters.", "invalid_tag")
            return {"tag": tag.strip().lower()}
        if action == "move":
            team = body.get("team")
            async with self.sessions() as session:
                known = isinstance(team, str) and await Agents(session).team(team) is not None
            if not known:
                raise Invalid(f"team: no team {team!r}.", "unknown_team")
            return {"team": str(team)}
        if action == "resolve":
            survey = body.get("survey", True)
            if not isinstance(survey, bool):
                raise Invalid("survey must be true or false.", "invalid_survey")
            return {"survey": survey}
        return {"text": checked_text(body.get("text"))}

    async def _apply(
        self, action: str, params: Mapping[str, Any], row: Conversation, actor: Principal
    ) -> Any:
        """Apply to one conversation; what it had before (None: nothing to change)."""
        if action == "reply":
            await self.conversations.reply_as_supervisor(row.id, actor, params["text"])
            return True
        if action == "resolve":  # as a supervisor's resolve: notice, survey decision, webhook
            await self.conversations.resolve(
                row.id, actor, survey=params["survey"], version=row.version
            )
            return True
        if action == "tag":
            if params["tag"] in row.tags:
                return None
            values: dict[str, Any] = {"tags": [*row.tags, params["tag"]]}
            before: Any = list(row.tags)
        else:
            if row.team == params["team"]:
                return None
            step = transition(Action.TRANSFER_TEAM)
            values = {
                "team": params["team"],
                "status": step.target.value,
                "assigned_agent_id": None,
                "assigned_at": None,
            }
            before = {"team": row.team, "agent_id": row.assigned_agent_id}
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            if not await Conversations(session).update_where(
                row.id, Conversation.version == row.version, **values
            ):
                raise Conflict("It changed meanwhile.", "changed")
            if action == "move":
                History(session).record(
                    row.id,
                    Action.TRANSFER_TEAM.value,
                    from_agent_id=row.assigned_agent_id,
                    by_agent_id=actor.id,
                    team=params["team"],
                    note="crisis bulk move",
                )
            await work.announce("conversation.updated", row.id)
        return before

    async def _restore(
        self, record: BulkAction, conversation_pk: str, before: Any, actor: Principal
    ) -> bool:
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            row = await Conversations(session).get(conversation_pk)
            if row is None:
                return False
            if record.action == "tag":
                tag = record.params["tag"]
                if tag not in row.tags:
                    return False
                values: dict[str, Any] = {"tags": [t for t in row.tags if t != tag]}
            else:
                moved_on = (
                    row.team != record.params["team"] or Status(row.status) not in WITH_PEOPLE
                )
                if moved_on or before.get("team") is None:
                    return False
                values = {"team": before["team"]}
            if not await Conversations(session).update_where(
                conversation_pk, Conversation.version == row.version, **values
            ):
                return False
            if record.action == "move":
                History(session).record(
                    conversation_pk,
                    Action.TRANSFER_TEAM.value,
                    from_agent_id=row.assigned_agent_id,
                    by_agent_id=actor.id,
                    team=before["team"],
                    note="crisis bulk move undone",
                )
            await work.announce("conversation.updated", conversation_pk)
        return True


async def _of_alert(
    session: AsyncSession, where: SearchFilter, given: Mapping[str, str]
) -> SearchFilter:
    """`where` narrowed to the conversations of the alert `given["alert"]`, if given."""
    if "alert" not in given:
        return where
    number = given["alert"]
    alert = await session.get(KpiAlert, int(number)) if number.isdigit() else None
    if alert is None:
        raise Invalid(f"filter.alert: no alert {given['alert']!r}.", "unknown_alert")
    return replace(where, ids=tuple(alert.conversation_ids))


async def _view(session: AsyncSession, record: BulkAction | None) -> views.JSON:
    assert record is not None
    ids = [i for i in (record.agent_id, record.undone_by_agent_id) if i]
    names = await Agents(session).names(ids)

    def who(agent_id: str | None) -> views.JSON | None:
        return {"id": agent_id, "name": names.get(agent_id)} if agent_id else None

    return {
        "id": record.id,
        "action": record.action,
        "filter": dict(record.selection),
        "params": dict(record.params),
        "conversation_ids": list(record.conversation_ids),
        "count": len(record.conversation_ids),
        "by": who(record.agent_id),
        "created_at": views.iso(record.created_at),
        "undone_at": views.iso(record.undone_at),
        "undone_by": who(record.undone_by_agent_id),
        "undoable": record.action not in NOT_UNDOABLE and record.undone_at is None,
    }
