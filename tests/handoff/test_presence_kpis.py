"""Online, away and idle time from the presence history, hand-computed: the presence in force
when the slice begins counts, idle is online time without a conversation held, everything is
clipped to the slice; the summary adds the slice's agents up per mode (docs/kpis.md, "Presence
time")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from handoff.live import LocalBroadcaster
from handoff.models import KpiSegment, PresenceChange
from handoff.queue_settings import QueueSettings
from handoff.services.kpis import KpiQueries, Slice
from handoff.services.presence import PresenceService
from handoff.services.presence_kpis import idle_by_mode, presence_time
from harness.handoff_data import make_agent, make_conversation

DAY = datetime(2026, 11, 23, tzinfo=timezone.utc)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


async def record(sessions, changes, held) -> None:
    """Presence changes `(agent, presence, at)` and segments `(agent, conversation, from, to[,
    kind])`, `agent` unless said."""
    async with sessions.begin() as session:
        for agent, presence, moment in changes:
            session.add(PresenceChange(agent_id=agent, presence=presence, at=moment))
        for agent, conversation, begin, end, *kind in held:
            session.add(
                KpiSegment(
                    conversation_pk=conversation["id"],
                    episode_seq=1,
                    kind=kind[0] if kind else "agent",
                    started_at=begin,
                    ended_at=end,
                    agent_id=agent,
                    team=conversation["team"],
                )
            )


async def test_online_away_and_idle_time_within_the_slice(sessions):
    ada = await make_agent(sessions, name="Ada")
    bo = await make_agent(sessions, name="Bo")
    conversation = await make_conversation(sessions)
    await record(
        sessions,
        [
            (ada.id, "online", at(8, 30)),  # before the slice: online when it begins
            (ada.id, "away", at(10)),
            (ada.id, "online", at(10, 30)),
            (ada.id, "offline", at(12)),
            (ada.id, "online", at(18)),  # after the slice
            (bo.id, "online", at(7)),  # online all day, never changed again
        ],
        [
            (ada.id, conversation, at(9, 15), at(9, 45)),
            (ada.id, conversation, at(11, 50), at(12, 30)),  # held past going offline
            (ada.id, conversation, at(10, 40), at(11, 40), "waiting_customer"),  # still idle
        ],
    )
    where = Slice(start=at(9), end=at(17))
    async with sessions() as session:
        figures = await presence_time(session, where, now=at(20))
    # Ada online 9:00-10:00 and 10:30-12:00 (9000 s), away 30 min, busy 30 + 10 min of it
    assert figures[ada.id] == {"online_seconds": 9000, "away_seconds": 1800, "idle_seconds": 6600}
    assert figures[bo.id] == {"online_seconds": 28800, "away_seconds": 0, "idle_seconds": 28800}
    async with sessions() as session:
        so_far = await presence_time(session, where, now=at(9, 30))  # the slice is not over
        only_bo = await presence_time(session, Slice(at(9), at(17), agent_id=bo.id), at(20))
    assert so_far[ada.id] == {"online_seconds": 1800, "away_seconds": 0, "idle_seconds": 900}
    assert list(only_bo) == [bo.id]


async def test_every_presence_change_is_kept_in_the_history(sessions):
    ada = await make_agent(sessions, name="Ada")
    presence = PresenceService(sessions, LocalBroadcaster(), QueueSettings())
    await presence.set_presence(ada.id, "online", ada.id)
    await presence.set_presence(ada.id, "away", ada.id)
    async with sessions() as session:
        kept = (
            await session.execute(
                select(PresenceChange.presence)
                .where(PresenceChange.agent_id == ada.id)
                .order_by(PresenceChange.id)
            )
        ).scalars()
        assert list(kept) == ["online", "away"]


async def test_the_summary_adds_up_idle_time_per_mode_for_the_slices_agents(sessions):
    ada = await make_agent(sessions, name="Ada", teams=("billing",))
    bo = await make_agent(sessions, name="Bo", teams=("devices",))
    chat, later_ada, later_bo = [
        await make_conversation(sessions, mode=mode) for mode in ("sync", "async", "async")
    ]
    await record(
        sessions,
        [
            (ada.id, "online", at(8, 30)),
            (ada.id, "away", at(10)),
            (ada.id, "online", at(10, 30)),
            (ada.id, "offline", at(12)),
            (bo.id, "online", at(7)),
        ],
        [
            (ada.id, chat, at(9, 15), at(9, 45)),
            (ada.id, later_ada, at(11), at(11, 50)),
            (ada.id, chat, at(11, 30), at(12, 30)),  # held past going offline
            (bo.id, later_bo, at(13), at(14)),
        ],
    )
    # Ada online 9000 s: a chat 30 + 30 min of it, the async one 50 min, any of them 30 + 60 min
    # Bo online 28800 s: no chat, the async one 60 min
    expected = {
        "sync": (5400 + 28800, 34200 / 37800),
        "async": (6000 + 25200, 31200 / 37800),
        "all": (3600 + 25200, 28800 / 37800),
    }
    async with sessions() as session:
        figures = await idle_by_mode(session, Slice(at(9), at(17)), now=at(20))
        billing = await idle_by_mode(session, Slice(at(9), at(17), team="billing"), at(20))
        only_async = await idle_by_mode(session, Slice(at(9), at(17), mode="async"), at(20))
        nobody = await idle_by_mode(session, Slice(at(5), at(6)), at(20))
    assert figures == {
        group: {"agent_idle_seconds": idle, "agent_idle_rate": round(rate, 4)}
        for group, (idle, rate) in expected.items()
    }
    assert billing["sync"] == {"agent_idle_seconds": 5400, "agent_idle_rate": 0.6}
    assert billing["all"] == {"agent_idle_seconds": 3600, "agent_idle_rate": 0.4}
    assert only_async["sync"] == {"agent_idle_seconds": None, "agent_idle_rate": None}
    assert only_async["all"] == only_async["async"] == figures["async"]
    assert nobody["all"] == {"agent_idle_seconds": None, "agent_idle_rate": None}  # no one on
    summary = await KpiQueries(sessions).summary(Slice(at(9), at(17)), compare=False)
    assert summary["current"]["sync"]["agent_idle_seconds"] == 34200
    assert summary["current"]["all"]["agent_idle_rate"] == round(28800 / 37800, 4)
    devices = await KpiQueries(sessions).agents(Slice(at(9), at(17), team="devices"))
    assert [(row["agent_name"], row["idle_seconds"]) for row in devices] == [("Bo", 25200)]
