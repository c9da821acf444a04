"""Satisfaction per agent from the answered surveys (docs/kpis.md, "Satisfaction per agent").

A survey counts for every agent who worked on its conversation: with weight 1 for the last owner
(the agent who resolved it) and 0.5 for each other agent who owned or wrote in it, so a transfer
shares the score without counting it twice for anyone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Conversation, CsatSurvey
from handoff.services.csat import ANSWERED

if TYPE_CHECKING:
    from handoff.services.kpis import Slice

LAST_AGENT_WEIGHT = 1.0
OTHER_AGENT_WEIGHT = 0.5
SATISFIED = 4  # csat_5: 4 and 5 count as satisfied
PROMOTER, DETRACTOR = 9, 6  # nps_10: 9-10 promote, 0-6 detract


def survey_weights(last_agent_id: str | None, agent_ids: list[str]) -> dict[str, float]:
    weights = {agent: OTHER_AGENT_WEIGHT for agent in agent_ids}
    if last_agent_id is not None:
        weights[last_agent_id] = LAST_AGENT_WEIGHT
    return weights


class _Tally:
    def __init__(self) -> None:
        self.csat_n = self.nps_n = 0
        self.csat_weight = self.csat_sum = self.satisfied = 0.0
        self.nps_weight = self.promoters = self.detractors = 0.0

    def add(self, scale: str, score: int, weight: float) -> None:
        if scale == "nps_10":
            self.nps_n += 1
            self.nps_weight += weight
            self.promoters += weight * (score >= PROMOTER)
            self.detractors += weight * (score <= DETRACTOR)
        else:
            self.csat_n += 1
            self.csat_weight += weight
            self.csat_sum += weight * score
            self.satisfied += weight * (score >= SATISFIED)

    def view(self) -> dict[str, Any]:
        csat, nps = self.csat_weight, self.nps_weight
        return {
            "csat_responses": self.csat_n,
            "csat_average": round(self.csat_sum / csat, 2) if csat else None,
            "csat_satisfied_rate": round(self.satisfied / csat, 4) if csat else None,
            "nps_responses": self.nps_n,
            "nps": round(100 * (self.promoters - self.detractors) / nps, 1) if nps else None,
        }


def no_satisfaction() -> dict[str, Any]:
    return _Tally().view()


def answered(where: Slice, *columns: Any) -> Select[Any]:
    """`columns` of the surveys answered in the slice `where` (its team, channel, topic,
    priority and mode are the conversation's), with scale, score and the agents last."""
    query = (
        select(
            *columns,
            CsatSurvey.scale,
            CsatSurvey.score,
            CsatSurvey.last_agent_id,
            CsatSurvey.agent_ids,
        )
        .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
        .where(
            CsatSurvey.status == ANSWERED,
            CsatSurvey.answered_at >= where.start,
            CsatSurvey.answered_at < where.end,
        )
    )
    for column, value in (
        (Conversation.team, where.team),
        (Conversation.channel, where.channel),
        (Conversation.triage_topic, where.topic),
        (Conversation.priority_level, where.priority),
        (Conversation.mode, where.mode),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


async def agent_satisfaction(session: AsyncSession, where: Slice) -> dict[str, dict[str, Any]]:
    """Per agent id, the satisfaction columns over surveys answered in the slice `where`."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    query = answered(where)
    for scale, score, last_agent_id, agent_ids in (await session.execute(query)).tuples():
        for agent, weight in survey_weights(last_agent_id, list(agent_ids)).items():
            if where.agent_id is None or agent == where.agent_id:
                tallies[agent].add(scale, score, weight)
    return {agent: tally.view() for agent, tally in tallies.items()}


async def satisfaction_series(
    session: AsyncSession, where: Slice, bucket: Any
) -> dict[str, dict[str, Any]]:
    """Per bucket of the answer time, the satisfaction columns over every survey once (or,
    with the slice's agent, weighted for that agent as in the agent table)."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    rows = (await session.execute(answered(where, bucket))).tuples()
    for key, scale, score, last_agent_id, agent_ids in rows:
        weight = 1.0
        if where.agent_id is not None:
            weight = survey_weights(last_agent_id, list(agent_ids)).get(where.agent_id, 0.0)
        if weight:
            tallies[str(key)].add(scale, score, weight)
    return {key: tally.view() for key, tally in tallies.items()}
