"""KPI queries on a year of facts, and the refresher's throughput.

1. Facts for N conversations (default 500,000: a year of a mid-size team) are generated inside
   the database with set-based SQL (one handoff episode, one agent's work and one bot contact
   per conversation, spread over 365 days, 5 teams, 2 modes, 3 channels, 4 priorities, 20
   agents), then every KPI query the API runs is timed (median of 5 runs after one warm-up)
   and the plan of the monthly summary is printed.
2. `--refresh M` demo conversations (`handoff.services.demo_history`, rows as the service
   writes them) are recomputed by the refresher from scratch: conversations per second; then
   an incremental round (nothing changed) on the full store.

    .venv-handoff/bin/python -m benchmarks.kpis [--conversations 500000] [--refresh 3000]
        [--database postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.store import add_database_option, throwaway_store
from handoff.db import create_engine, session_factory
from handoff.models import Agent, AgentTeam, KpiEpisode, Team, new_id
from handoff.repositories import Cursors
from handoff.services.demo_history import seed_history
from handoff.services.kpis import (
    CURSOR,
    EPISODE_AGGREGATES,
    KpiQueries,
    KpiRefresher,
    Slice,
    open_sla,
)

END = datetime(2026, 12, 1, tzinfo=timezone.utc)
YEAR = timedelta(days=365)
TEAMS = ("billing", "accounts", "orders", "devices", "care")


async def generate_facts(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    """N conversations with one episode, one agent's work, one bot contact each."""
    async with sessions.begin() as session:
        for team in TEAMS:
            session.add(Team(id=team, name=team.title()))
        agents = [new_id() for _ in range(20)]
        for number, agent in enumerate(agents):
            session.add(
                Agent(
                    id=agent,
                    email=f"bench{number}@x.example",
                    name=f"Agent {number}",
                    password_hash="-",
                    role="agent",
                )
            )
        await session.flush()
        session.add_all(
            AgentTeam(agent_id=agent, team_id=TEAMS[i % len(TEAMS)])
            for i, agent in enumerate(agents)
        )
    series = f"SELECT g AS i FROM generate_series(1, {n}) AS g"
    start = (END - YEAR).isoformat()
    agent_array = "(ARRAY[" + ",".join(f"'{a}'" for a in agents) + "])"
    statements = [
        f"""INSERT INTO conversations (id, conversation_id, channel, customer_id, customer_language,
            status, priority_level, priority_name, mode, team, tags, reasons, triage_topic,
            frustration_score, frustration_signals, created_at, updated_at, version)
        SELECT md5(i::text), 'bench-' || i, (ARRAY['whatsapp','webchat','messenger'])[1 + i % 3],
            'bench-' || i, 'en', 'resolved', 1 + i % 4, 'normal',
            CASE WHEN i % 10 < 3 THEN 'async' ELSE 'sync' END,
            (ARRAY['billing','accounts','orders','devices','care'])[1 + i % 5], '[]', '[]',
            'billing', 0, '[]',
            TIMESTAMPTZ '{start}' + (i::float / {n}) * INTERVAL '365 days',
            TIMESTAMPTZ '{start}' + (i::float / {n}) * INTERVAL '365 days', 1
        FROM ({series}) s""",
        f"""INSERT INTO kpi_episodes (conversation_pk, seq, started_at, ended_at, end_kind, team,
            final_team, channel, topic, priority_level, mode, first_agent_id, resolved_by_agent_id,
            first_response_at, first_response_seconds, first_response_business_seconds,
            wait_seconds, queued_seconds, handle_seconds, waiting_customer_seconds,
            snoozed_seconds, resolution_seconds, resolution_business_seconds, agent_replies,
            next_responses, next_response_seconds, next_response_max_seconds,
            next_response_breaches, transfers, reopen, reopened, abandoned, fcr,
            sla_first_response, sla_resolution, frustration_start, frustration_end)
        SELECT c.id, 1, c.created_at + INTERVAL '2 minutes', c.created_at + INTERVAL '30 minutes',
            'resolved', c.team, c.team, c.channel, c.triage_topic, c.priority_level, c.mode,
            {agent_array}[1 + i % 20], {agent_array}[1 + i % 20],
            c.created_at + INTERVAL '6 minutes',
            60 + (i::bigint * 7919) % 900, 60 + (i::bigint * 7919) % 600,
            30 + i % 300, 30 + i % 300, 300 + (i::bigint * 104729) % 3000, 0, 0, 1680, 1500,
            CASE WHEN i % 20 = 0 THEN 0 ELSE 1 + i % 6 END, i % 5, (i % 5) * 90, 120,
            0, CASE WHEN i % 12 = 0 THEN 1 ELSE 0 END, i % 25 = 0, i % 25 = 1, i % 20 = 0,
            i % 20 <> 0 AND i % 25 <> 1,
            CASE WHEN i % 9 = 0 THEN 'breached' ELSE 'met' END, 'met',
            (i % 10) / 10.0, (i % 7) / 10.0
        FROM ({series}) s JOIN conversations c ON c.id = md5(i::text)""",
        """INSERT INTO kpi_agent_work (conversation_pk, episode_seq, agent_id, started_at, team,
            channel, topic, priority_level, mode, assigned_seconds, handle_seconds, replies,
            answers, tar_seconds, response_handle_seconds, first_tar_seconds, resolved)
        SELECT e.conversation_pk, 1, e.first_agent_id, e.started_at + INTERVAL '1 minute',
            e.team, e.channel, e.topic, e.priority_level, e.mode, e.handle_seconds,
            e.handle_seconds, e.agent_replies, e.agent_replies, e.agent_replies * 200.0,
            e.agent_replies * 90.0, e.first_response_seconds, true
        FROM kpi_episodes e""",
        """INSERT INTO kpi_bot_contacts (conversation_pk, started_at, channel, topic, handed_off)
        SELECT id, created_at, channel, triage_topic, true FROM conversations""",
        """INSERT INTO kpi_bot_contacts (conversation_pk, started_at, channel, topic, handed_off)
        SELECT id, created_at + INTERVAL '3 hours', channel, triage_topic, false
        FROM conversations WHERE ('x' || substr(id, 1, 4))::bit(16)::int % 2 = 0""",
        "ANALYZE",
    ]
    async with sessions.begin() as session:
        for statement in statements:
            await session.execute(text(statement))


async def timed(job: Callable[[], Awaitable[Any]], runs: int = 5) -> tuple[float, Any]:
    await job()  # warm-up
    seconds = []
    result = None
    for _ in range(runs):
        began = time.perf_counter()
        result = await job()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds) * 1000, result


async def plan(sessions: async_sessionmaker[AsyncSession], where: Slice) -> str:
    """EXPLAIN ANALYZE of the monthly summary (the API's main query)."""
    query = (
        select(KpiEpisode.mode, *EPISODE_AGGREGATES.values())
        .where(*where.episode_filters())
        .group_by(KpiEpisode.mode)
    )
    async with sessions() as session:
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        rows = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
        return "\n".join(row[0] for row in rows)


async def main(args: argparse.Namespace) -> None:
    async with throwaway_store(args.database) as url:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            began = time.perf_counter()
            await generate_facts(sessions, args.conversations)
            print(
                f"generated {args.conversations} conversations with their facts in"
                f" {time.perf_counter() - began:.1f} s ({args.database})"
            )
            queries = KpiQueries(sessions)
            month = Slice(END - timedelta(days=30), END)
            year = Slice(END - YEAR, END)
            cases = [
                ("summary, 30 days + previous", lambda: queries.summary(month)),
                (
                    "summary, 30 days, team + mode",
                    lambda: queries.summary(
                        Slice(month.start, month.end, team="billing", mode="sync")
                    ),
                ),
                ("summary, 365 days", lambda: queries.summary(year, compare=False)),
                ("per agent, 30 days", lambda: queries.agents(month)),
                ("per agent, 365 days", lambda: queries.agents(year)),
                ("series by day, 30 days", lambda: queries.series(month, "day")),
                (
                    "series by hour, 7 days",
                    lambda: queries.series(Slice(END - timedelta(days=7), END), "hour"),
                ),
                ("drill-down abandoned, 30 days", lambda: queries.drill(month, "abandoned")),
                ("live tiles", lambda: queries.live(None, 0.8, END)),
            ]
            print(f"\n{'query':<34} {'median ms':>10}")
            for name, job in cases:
                ms, _ = await timed(job)
                print(f"{name:<34} {ms:>10.1f}")
            print("\nplan of the 30-day summary:\n" + await plan(sessions, month))
            if args.refresh:
                await refresh_figures(sessions, args.refresh)
        finally:
            await engine.dispose()


async def refresh_figures(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    per_day = count / 21
    await seed_history(sessions, days=21, per_day=per_day, seed=5, now=END)
    refresher = KpiRefresher(sessions)
    async with sessions() as session:
        pks = list(
            (
                await session.scalars(
                    text("SELECT id FROM conversations WHERE conversation_id LIKE 'demo-history-%'")
                )
            ).all()
        )
    began = time.perf_counter()
    for start in range(0, len(pks), refresher.batch):
        await refresher.recompute(pks[start : start + refresher.batch], END)
    seconds = time.perf_counter() - began
    print(
        f"\nrefresher from scratch: {len(pks)} demo conversations in {seconds:.1f} s"
        f" ({len(pks) / seconds:.0f} conversations/s)"
    )
    async with sessions.begin() as session:  # as if a round had just run (no full recompute)
        await Cursors(session).put(CURSOR, END.isoformat())
    # the warm-up run recomputes the rows stamped within the overlap; then nothing is due
    ms, recomputed = await timed(lambda: refresher.refresh(END + timedelta(minutes=10)), runs=3)
    print(
        f"incremental round, nothing changed: {ms:.0f} ms ({recomputed} conversations recomputed)"
    )
    ms, standing = await timed(lambda: open_sla(sessions, None, 0.8, END), runs=3)
    print(f"open SLA evaluation (alerts, live tiles): {ms:.0f} ms for {len(standing)} open")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=500_000)
    parser.add_argument("--refresh", type=int, default=3000)
    add_database_option(parser)
    parser.set_defaults(database="postgresql")
    options = parser.parse_args()
    if options.database == "sqlite":
        parser.error("the fact generator is written for PostgreSQL: --database postgresql")
    asyncio.run(main(options))
