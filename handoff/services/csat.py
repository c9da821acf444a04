"""CSAT surveys in the store: the decision taken when a person resolves a conversation (in the
resolution's transaction, skipped ones with the rule and reason), starting the due ones in the
bot or, outside the channel's window, as the policy's channel template (`send_due`, a job that
runs once across instances), and the customer's answer reported by the bot
(docs/integrations.md, "CSAT")."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.delivery import Template
from contracts.values import FAILED
from handoff.csat import CsatPolicy, Facts, SurveyTemplate, decide
from handoff.errors import Conflict, Invalid, NotFound
from handoff.models import Assignment, Conversation, CsatSurvey, Message, utc_now
from handoff.rasa_client import RasaClient, RasaError
from handoff.services import webhooks
from handoff.services.views import load_row
from handoff.states import Status
from handoff.views import JSON, iso

logger = logging.getLogger(__name__)

SKIPPED, ELIGIBLE, SENT, ANSWERED = "skipped", "eligible", "sent", "answered"
ASKED = (ELIGIBLE, SENT, ANSWERED)  # count for "once per conversation" and "per customer"
MAX_COMMENT = 1000
SEND_BATCH = 50
SEND_FOR = timedelta(hours=1)  # a survey Rasa keeps refusing is given up this long after due
# An unanswered survey takes the customer's lines as its answers this long after it went out
# (Rasa's session expiry); a line after that is the customer writing again and can reopen.
ANSWER_FOR = timedelta(hours=1)
# Skips decided when a survey falls due (the policy's own rules are decided at the resolution).
REOPENED = ("reopened", "the conversation was reopened before the survey was due")


class TemplateLines(Protocol):
    """Where a survey sent as a channel template goes: a system line of the conversation,
    delivered through the channel's connector (`ConversationService.send_template`)."""

    async def send_template(self, conversation_pk: str, text: str, template: Template) -> JSON:
        """The stored line, with its `delivery_status` and `delivery_error`."""
        ...


@dataclass(frozen=True)
class _Start:
    survey_id: str
    conversation_pk: str
    sender_id: str
    scale: str
    template: SurveyTemplate | None  # outside the window: sent as this template


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
        counted = (CsatSurvey.status.in_(ASKED),)
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

    async def send_due(self, rasa: RasaClient, lines: TemplateLines) -> int:
        """Start the surveys whose time has come (`due_at`, the policy's delay); how many went
        out. In the window the bot asks; outside it the bot is readied for the answer and the
        policy's template goes to the customer as a system line (`lines`). Each is marked sent
        before Rasa is called, so none goes out twice; one whose conversation was reopened
        meanwhile is skipped, one Rasa refuses is retried next round and given up after
        SEND_FOR, a template the channel refuses is given up at once."""
        now = utc_now()
        starts: list[_Start] = []
        async with self.sessions.begin() as session:
            due = await session.execute(
                select(CsatSurvey, Conversation)
                .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
                .where(CsatSurvey.status == ELIGIBLE, CsatSurvey.due_at <= now)
                .order_by(CsatSurvey.due_at)
                .limit(SEND_BATCH)
            )
            for survey, conversation in due.tuples():
                template = self.policy.templates.get(survey.template or "")
                skip = _skip_when_due(survey, conversation, template)
                if skip is None:
                    survey.status = SENT
                    starts.append(
                        _Start(
                            survey.id,
                            conversation.id,
                            conversation.conversation_id,
                            survey.scale,
                            template,
                        )
                    )
                else:
                    survey.status, (survey.rule, survey.reason) = SKIPPED, skip
        sent = 0
        for start in starts:
            sent += await self._start(rasa, lines, start, now)
        return sent

    async def _start(
        self, rasa: RasaClient, lines: TemplateLines, start: _Start, now: datetime
    ) -> bool:
        """One survey marked sent: in the bot, or as its template; whether it went out."""
        comment = self.policy.comment
        try:
            if start.template is None:
                await rasa.start_survey(start.sender_id, start.scale, comment)
                return True
            await rasa.await_survey_answer(start.sender_id, start.scale, comment)
        except RasaError as error:
            await self._not_sent(start.survey_id, str(error), now)
            return False
        template = start.template
        line = await lines.send_template(start.conversation_pk, template.text, template.to_send())
        if line["delivery_status"] == FAILED:
            reason = f"the channel did not take the template ({line['delivery_error']})"
            await self._given_up(start.survey_id, reason)
            return False
        return True

    async def _not_sent(self, survey_id: str, error: str, now: datetime) -> None:
        async with self.sessions.begin() as session:
            survey = await session.get(CsatSurvey, survey_id)
            if survey is None or survey.status != SENT:
                return
            if survey.due_at is None or survey.due_at >= now - SEND_FOR:
                survey.status = ELIGIBLE
                logger.warning("CSAT survey %s not sent, retrying: %s", survey_id, error)
                return
        await self._given_up(survey_id, f"the bot could not be reached to send it ({error})")

    async def _given_up(self, survey_id: str, reason: str) -> None:
        async with self.sessions.begin() as session:
            survey = await session.get(CsatSurvey, survey_id)
            if survey is not None and survey.status == SENT:
                survey.status, survey.rule, survey.reason = SKIPPED, "not_sent", reason
                logger.error("CSAT survey %s given up: %s", survey_id, reason)

    async def answers_until(
        self, session: AsyncSession, conversation_pk: str, resolved_at: datetime
    ) -> datetime | None:
        """Up to when the customer's lines since the resolution at `resolved_at` answer its
        survey rather than write again (they never reopen the conversation): while the survey is
        out with them, up to ANSWER_FOR after it went out (the bot takes what they write as the
        answer); until the answer came once it did (a comment may be stored after the
        answer); None when the resolution has no survey in the bot."""
        survey = await session.scalar(
            select(CsatSurvey)
            .where(
                CsatSurvey.conversation_id == conversation_pk,
                CsatSurvey.status.in_((SENT, ANSWERED)),
                CsatSurvey.decided_at >= resolved_at,
            )
            .order_by(CsatSurvey.decided_at.desc())
            .limit(1)
        )
        if survey is None:
            return None
        if survey.status == ANSWERED:
            return survey.answered_at
        return min(utc_now(), (survey.due_at or survey.decided_at) + ANSWER_FOR)

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


def _skip_when_due(
    survey: CsatSurvey, conversation: Conversation, template: SurveyTemplate | None
) -> tuple[str, str] | None:
    """The rule and reason that stop a due survey now, or None to send it (`template`: the
    policy's template of the survey's name, if it has one)."""
    if conversation.status != Status.RESOLVED.value:
        return REOPENED
    if survey.template and template is None:
        return "not_sent", f"the policy has no template {survey.template!r} any more"
    return None


async def _agents_of(session: AsyncSession, conversation_pk: str) -> list[str]:
    """Every agent who owned or wrote in the conversation."""
    owners = select(Assignment.to_agent_id.label("agent")).where(
        Assignment.conversation_id == conversation_pk, Assignment.to_agent_id.is_not(None)
    )
    writers = select(Message.author_agent_id.label("agent")).where(
        Message.conversation_id == conversation_pk, Message.author_agent_id.is_not(None)
    )
    agents = (await session.scalars(union(owners, writers))).all()
    return sorted({agent for agent in agents if agent is not None})


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
