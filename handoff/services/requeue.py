"""Back to the queue without loss (timeout, an agent going offline, a handover to the queue):
the conversation keeps its `queued_at`, so it keeps its place by its original waiting time, and
every line; the next agent sees all of it, and the note says why it came back."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Conversation, Note
from handoff.repositories import Conversations, History, status_in
from handoff.states import Action, transition


async def requeue(
    session: AsyncSession,
    row: Conversation,
    *,
    action: str,
    note: str | None,
    by_agent_id: str | None,
) -> bool:
    """Put `row` back in its team's queue if it is still assigned to the same agent since the
    same moment (a conditional UPDATE); whether it was. `action` names it in the history."""
    step = transition(Action.RELEASE)
    moved = await Conversations(session).update_where(
        row.id,
        status_in(step.sources),
        Conversation.assigned_agent_id == row.assigned_agent_id,
        Conversation.assigned_at == row.assigned_at,
        status=step.target.value,
        assigned_agent_id=None,
        assigned_at=None,
    )
    if moved:
        History(session).record(
            row.id,
            action,
            from_agent_id=row.assigned_agent_id,
            by_agent_id=by_agent_id,
            team=row.team,
            note=note,
        )
        if note:
            session.add(Note(conversation_id=row.id, agent_id=by_agent_id, text=note))
    return moved
