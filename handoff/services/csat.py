"""CSAT surveys in the store: the decision taken when a person resolves a conversation (in the
resolution's transaction, skipped ones with the rule and reason), and the customer's answer
reported by the bot (docs/integrations.md, "CSAT")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.csat import CsatPolicy, Facts, decide
from handoff.errors import Conflict, Invalid, NotFound
from handoff.models import Assignment, Conversation, CsatSurvey, Message, utc_now
from handoff.services import webhooks
from handoff.services.views import load_row
from handoff.views import JSON, iso

SKIPPED, ELIGIBLE, ANSWERED = "skipped", "eligible", "answered"
MAX_COMMENT = 1000


class CsatService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: CsatPolicy) -> None:
        self.sessions = sessions
        self.policy = policy

    async def on_resolved(
        self,
        session: AsyncSession,
        row: Conversation,
        *,
        by_person: bool,
        survey: bool,
    ) -> CsatSurvey:
        """Decide and record the survey of a resolution, in the resolution's transaction (`row`
        is the conversation as it was before)."""
        now = utc_now()
        pk = row.id
        since = row.queued_at or row.created_at
        person_wrote = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.conversation_id == pk,
                Message.author_type == "agent",
                Message.created_at >= since,
            )
        )
        counted = (CsatSurvey.status.in_((ELIGIBLE, ANSWERED)),)
        surveyed_before = await session.scalar(
            select(func.count())
            .select_from(CsatSurvey)
            .where(CsatSurvey.conversation_id == pk, *counted)
        )
        customer_surveyed_at = (
            await session.scalar(
                select(func.max(CsatSurvey.decided_at)).where(
                    CsatSurvey.customer_id == row.customer_id, *counted
                )
            )
            if row.customer_id
            else None
        )
        last_customer = await session.scalar(
            select(func.max(Message.created_at)).where(
                Message.conversation_id == pk, Message.author_type == "customer"
            )
        )
        facts = Facts(
            channel=row.channel,
            person_wrote=bool(person_wrote),
            resolved_by_person=by_person,
            agent_opted_out=not survey,
            surveyed_before=bool(surveyed_before),
            customer_surveyed_at=customer_surveyed_at,
            last_customer_message_at=last_customer,
            now=now,
        )
        decision = decide(self.policy, facts)
        record = CsatSurvey(
            conversation_id=pk,
            customer_id=row.customer_id,
            status=ELIGIBLE if decision.send else SKIPPED,
            rule=decision.rule,
            reason=decision.reason,
            template=decision.template,
            scale=self.policy.scale,
            due_at=decision.due_at,
            last_agent_id=row.assigned_agent_id,
            agent_ids=await _agents_of(session, pk),
            frustration_at_handoff=await _frustration(session, pk, until=row.queued_at),
            frustration_at_end=await _frustration(session, pk),
            decided_at=now,
        )
        session.add(record)
        await session.flush()
        return record

    async def of_conversation(self, conversation_pk: str) -> list[JSON]:
        async with self.sessions() as session:
            await load_row(session, conversation_pk)
            rows = await session.scalars(
                select(CsatSurvey)
                .where(CsatSurvey.conversation_id == conversation_pk)
                .order_by(CsatSurvey.decided_at)
            )
            return [survey_view(row) for row in rows]

    async def answer(self, sender_id: Any, score: Any, comment: Any) -> JSON:
        """The customer's answer, as the bot collected it, for the conversation's survey."""
        if not isinstance(sender_id, str) or not sender_id:
            raise Invalid("conversation_id must be the Rasa sender id.", "invalid_field")
        low, high = self.policy.score_range
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            raise Invalid(f"score must be a whole number from {low} to {high}.", "invalid_score")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise Invalid(f"comment must be at most {MAX_COMMENT} characters.", "invalid_field")
        async with self.sessions.begin() as session:
            pk = await session.scalar(
                select(Conversation.id).where(Conversation.conversation_id == sender_id)
            )
            if pk is None:
                raise NotFound(f"No conversation {sender_id!r}.", "conversation_not_found")
            survey = await session.scalar(
                select(CsatSurvey)
                .where(CsatSurvey.conversation_id == pk, CsatSurvey.status != SKIPPED)
                .order_by(CsatSurvey.decided_at.desc())
                .limit(1)
            )
            if survey is None:
                raise Conflict("This conversation was not surveyed.", "no_survey")
            if survey.status == ANSWERED:
                raise Conflict("This survey is answered already.", "already_answered")
            survey.status = ANSWERED
            survey.score = score
            survey.comment = (comment.strip() or None) if comment else None
            survey.answered_at = utc_now()
            view = survey_view(survey)
            await webhooks.record(session, "csat.answered", pk, survey=view)
        return view


async def _agents_of(session: AsyncSession, conversation_pk: str) -> list[str]:
    """Every agent who owned or wrote in the conversation."""
    owners = select(Assignment.to_agent_id.label("agent")).where(
        Assignment.conversation_id == conversation_pk, Assignment.to_agent_id.is_not(None)
    )
    writers = select(Message.author_agent_id.label("agent")).where(
        Message.conversation_id == conversation_pk, Message.author_agent_id.is_not(None)
    )
    return sorted(set((await session.scalars(union(owners, writers))).all()))


async def _frustration(
    session: AsyncSession, conversation_pk: str, until: Any = None
) -> float | None:
    """The frustration of the customer's latest scored line (up to `until`)."""
    query = select(Message.frustration_score).where(
        Message.conversation_id == conversation_pk,
        Message.author_type == "customer",
        Message.frustration_score.is_not(None),
    )
    if until is not None:
        query = query.where(Message.created_at <= until)
    return await session.scalar(
        query.order_by(Message.created_at.desc(), Message.id.desc()).limit(1)
    )


def survey_view(row: CsatSurvey) -> JSON:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "status": row.status,
        "rule": row.rule,
        "reason": row.reason,
        "template": row.template,
        "scale": row.scale,
        "due_at": iso(row.due_at),
        "last_agent_id": row.last_agent_id,
        "agent_ids": list(row.agent_ids),
        "frustration": {"at_handoff": row.frustration_at_handoff, "at_end": row.frustration_at_end},
        "score": row.score,
        "comment": row.comment,
        "decided_at": iso(row.decided_at),
        "answered_at": iso(row.answered_at),
    }
