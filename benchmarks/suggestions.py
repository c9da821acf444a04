"""Suggested responses, offline: how often a suggestion close to what the agent really sent is
in the top three, before and after feedback, and how long a suggestion takes on a large store.

1. Quality. The demo history (`handoff.services.demo_history`, `--days` of made-up
   conversations whose lines come from `demo_dialogues.py`) and the demo canned library are
   mined as the service does. Each agent reply of a resolved conversation is hidden in turn:
   the customer lines before it are the query, the replies of its own conversation are left
   out, and a suggestion is a hit when its text (placeholders as written) has an encoder cosine
   of at least `--threshold` with the hidden reply (scrubbed the same way). Reported: hit@3 and
   MRR (reciprocal rank of the first hit in the top three, 0 without one). Then feedback: the
   replies are split by conversation into halves; for every query of the first half the top
   three get the outcome an agent would give (a hit with cosine >= 0.95 used unchanged, another
   hit edited, the rest rejected), and the second half is measured again.
2. Latency. `--store` past replies (default 100,000) are synthesised into the store: texts and
   vectors of the mined demo replies with a little noise on each vector (so 100,000 distinct
   rows, not 100,000 real conversations), then `SuggestionService.suggest` (encode the query,
   rank, check the store, record what is shown) is timed for `--queries` conversations: p50, p95.

    .venv-handoff/bin/python -m benchmarks.suggestions [--days 7] [--store 100000]
        [--queries 200] [--threshold 0.8] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import defaultdict
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see minilm/numpy_encoder.py

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.store import add_database_option, throwaway_store
from handoff.cli import seed_demo
from handoff.db import create_engine, session_factory
from handoff.models import Agent, Conversation, Message, SuggestionEntry, new_id, utc_now
from handoff.roles import Role
from handoff.services.auth import Principal
from handoff.services.canned_replies import CannedReplyService
from handoff.services.demo_history import seed_history
from handoff.services.suggestions import SuggestionService, mined_pairs

NOISE = 0.02  # per-dimension noise on synthesised vectors (norm 1 afterwards)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def held_out(service: SuggestionService) -> list[dict[str, Any]]:
    """Every mined reply with its query, its conversation's keys and its scrubbed text."""
    async with service.sessions() as session:
        entries = (await session.scalars(select(SuggestionEntry))).all()
        by_message = {entry.message_id: entry for entry in entries}
        keys: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            keys[entry.conversation_id].append(f"mined:{entry.id}")
        rows = (
            await session.scalars(select(Conversation).where(Conversation.id.in_(list(keys))))
        ).all()
        cases = []
        for row in rows:
            lines = (
                await session.scalars(
                    select(Message)
                    .where(Message.conversation_id == row.id)
                    .order_by(Message.created_at, Message.id)
                )
            ).all()
            for reply, context in mined_pairs(lines):
                entry = by_message[reply.id]
                cases.append(
                    {
                        "row": row,
                        "context": context,
                        "exclude": keys[row.id],
                        "target": np.frombuffer(entry.text_vector, dtype=np.float32),
                    }
                )
    return cases


async def measure(
    service: SuggestionService, cases: list[dict[str, Any]], threshold: float
) -> tuple[float, float, list[list[tuple[str, float]]]]:
    """hit@3, MRR@3 and, per case, the top three (key, cosine with the hidden reply)."""
    vectors = {
        candidate.key: vector
        for pool in (service.index.approved, service.index.mined)
        for candidate, vector in zip(pool.candidates, pool.vectors(), strict=True)
    }
    tops: list[list[tuple[str, float]]] = []
    hits, reciprocal = 0, 0.0
    for case in cases:
        query = await service.query(case["row"], case["context"], None)
        assert query is not None
        ranked = service.index.rank(query, 3, exclude=case["exclude"])
        cosines = [float(vectors[item.candidate.key] @ case["target"]) for item in ranked]
        tops.append([(item.candidate.key, cos) for item, cos in zip(ranked, cosines, strict=True)])
        first = next((rank for rank, cos in enumerate(cosines, 1) if cos >= threshold), None)
        if first:
            hits += 1
            reciprocal += 1 / first
    return hits / len(cases), reciprocal / len(cases), tops


async def quality(service: SuggestionService, threshold: float) -> None:
    cases = await held_out(service)
    conversations = sorted({case["row"].id for case in cases})
    random.Random(7).shuffle(conversations)
    first_half = set(conversations[: len(conversations) // 2])
    train = [case for case in cases if case["row"].id in first_half]
    test = [case for case in cases if case["row"].id not in first_half]
    hit_all, mrr_all, _ = await measure(service, cases, threshold)
    hit_before, mrr_before, _ = await measure(service, test, threshold)
    _, _, tops = await measure(service, train, threshold)
    outcomes = defaultdict(int)
    for case, top in zip(train, tops, strict=True):
        for key, cosine in top:
            outcome = "used" if cosine >= 0.95 else "edited" if cosine >= threshold else "rejected"
            service.index.feedback.add(key, case["row"].triage_topic, outcome)
            outcomes[outcome] += 1
    hit_after, mrr_after, _ = await measure(service, test, threshold)
    print(f"held-out replies: {len(cases)} from {len(conversations)} resolved conversations")
    print(f"all replies:            hit@3 {hit_all:.3f}  MRR {mrr_all:.3f}")
    print(f"test half, no feedback: hit@3 {hit_before:.3f}  MRR {mrr_before:.3f}  (n={len(test)})")
    print(f"feedback from the other half: {dict(outcomes)}")
    print(f"test half, feedback:    hit@3 {hit_after:.3f}  MRR {mrr_after:.3f}")


async def synthesise(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    """`count` entries copied from the mined ones with noisy vectors, in batches."""
    async with sessions() as session:
        seeds = (await session.scalars(select(SuggestionEntry))).all()
    rng = np.random.default_rng(3)
    now = utc_now()
    for start in range(0, count, 5000):
        rows = []
        for number in range(start, min(count, start + 5000)):
            seed = seeds[number % len(seeds)]
            vectors = []
            for data in (seed.context_vector, seed.text_vector):
                vector = np.frombuffer(data, dtype=np.float32) + rng.normal(0, NOISE, 384)
                vectors.append((vector / np.linalg.norm(vector)).astype(np.float32).tobytes())
            rows.append(
                {
                    "id": new_id(),
                    "conversation_id": seed.conversation_id,
                    "message_id": new_id(),
                    "team": seed.team,
                    "topic": seed.topic,
                    "device": seed.device,
                    "language": seed.language,
                    "context": seed.context,
                    "text": seed.text,
                    "context_vector": vectors[0],
                    "text_vector": vectors[1],
                    "created_at": now,
                }
            )
        async with sessions.begin() as session:
            await session.execute(insert(SuggestionEntry), rows)


async def latency(service: SuggestionService, store: int, queries: int) -> None:
    sessions = service.sessions
    started = time.perf_counter()
    await synthesise(sessions, store)
    written = time.perf_counter() - started
    started = time.perf_counter()
    await service.refresh()
    loaded = time.perf_counter() - started
    async with sessions() as session:
        pks = (
            await session.scalars(
                select(Conversation.id).where(Conversation.status == "resolved").limit(queries)
            )
        ).all()
        boss = (await session.scalars(select(Agent).where(Agent.role == "supervisor"))).first()
    assert boss is not None, "seed-demo makes a supervisor"
    agent = Principal(boss.id, boss.name, boss.email, Role.SUPERVISOR, (), "")
    times = []
    for pk in pks:
        started = time.perf_counter()
        await service.suggest(agent, pk)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"store: {len(service.index.mined.candidates)} mined replies (synthesised {store}"
        f" in {written:.0f} s), index loaded in {loaded:.1f} s"
    )
    print(
        f"suggest over {len(times)} conversations: p50 {percentile(times, 0.5):.0f} ms,"
        f" p95 {percentile(times, 0.95):.0f} ms, mean {statistics.mean(times):.0f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    async with throwaway_store(args.database) as url:
        engine = create_engine(url)
        try:
            await seed_demo(engine)
            sessions = session_factory(engine)
            count = await seed_history(sessions, days=args.days, per_day=120)
            service = SuggestionService(sessions, CannedReplyService(sessions))
            started = time.perf_counter()
            while await service.mine():
                pass
            await service.refresh()
            mined = len(service.index.mined.candidates)
            print(
                f"demo history: {count} conversations, {mined} replies mined in"
                f" {time.perf_counter() - started:.0f} s ({args.database})"
            )
            await quality(service, args.threshold)
            service.index.feedback.counts.clear()
            await latency(service, args.store, args.queries)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--store", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threshold", type=float, default=0.8)
    add_database_option(parser)
    asyncio.run(main(parser.parse_args()))
