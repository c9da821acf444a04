"""KPI definitions (docs/kpis.md) on hand-computed scenarios: each figure below was worked out
by hand from the timeline in the test, not read back from the code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from handoff.services.business_calendar import load_calendar
from handoff.services.segments import Change, Facts, Line, segment
from handoff.services.sla_targets import SlaClock, Target

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday, London = UTC in November
NOW = T0 + timedelta(days=30)
A, B, C = "agent-a", "agent-b", "agent-c"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def facts(mode: str = "sync", topic: str = "billing") -> Facts:
    return Facts(T0, "webchat", topic, 3, mode)


def customer(minutes: float, frustration: float | None = None) -> Line:
    return Line(at(minutes), "customer", frustration=frustration)


def agent(minutes: float, agent_id: str, delivery: str = "sent") -> Line:
    return Line(at(minutes), "agent", agent_id, delivery_status=delivery)


def test_bot_only_conversation_has_no_episode_and_is_contained():
    lines = [customer(0), Line(at(0.1), "bot"), customer(1), customer(200)]
    result = segment(facts(), [], lines, NOW)
    assert result.episodes == []
    assert [s.kind for s in result.segments] == ["bot"]
    # two contacts: the 3-hour gap is over the 60-minute bot session gap
    assert [(c.started_at, c.handed_off) for c in result.bot_contacts] == [
        (at(0), False),
        (at(200), False),
    ]


def test_handoff_then_resolve_measures_from_the_handoff_not_the_bot():
    changes = [
        Change(at(2), "intake", team="billing"),
        Change(at(5), "claim", to_agent_id=A, by_agent_id=A),
        Change(at(15), "resolve", by_agent_id=A),
    ]
    lines = [
        customer(0, frustration=0.7),
        Line(at(1), "bot"),
        agent(6, A),
        customer(8, frustration=0.2),
        agent(10, A),
    ]
    (episode,) = segment(facts(), changes, lines, NOW).episodes
    assert episode.first_response_seconds == 240  # 09:02 handoff -> 09:06, not 09:00
    assert episode.wait_seconds == 180
    assert episode.handle_seconds == 600
    assert episode.resolution_seconds == 780
    assert episode.agent_replies == 2
    assert episode.next_responses == [(at(8), at(10))]
    assert (episode.end_kind, episode.resolved_by_agent_id) == ("resolved", A)
    assert episode.first_contact_resolution and not episode.abandoned
    assert (episode.frustration_start, episode.frustration_end) == (0.7, 0.2)
    work = episode.agents[A]
    assert (work.replies, work.answers) == (2, 2)
    assert work.first_tar_seconds == 240
    assert work.tar_seconds == 240 + 120
    assert work.response_handle_seconds == 60 + 120  # from her claim at 09:05, then 09:08
    assert work.resolved


def test_the_bot_contact_before_a_handoff_is_handed_off_not_contained():
    changes = [Change(at(2), "intake", team="billing"), Change(at(3), "resolve")]
    result = segment(facts(), changes, [customer(0), customer(1)], NOW)
    assert [(c.started_at, c.handed_off) for c in result.bot_contacts] == [(at(0), True)]


def test_transfers_to_an_agent_and_to_a_team():
    changes = [
        Change(at(0), "intake", team="billing"),
        Change(at(1), "claim", to_agent_id=A),
        Change(at(4), "transfer_agent", to_agent_id=B, by_agent_id=A),
        Change(at(9), "transfer_team", team="devices", by_agent_id=B),
        Change(at(12), "claim", to_agent_id=C),
        Change(at(20), "resolve", by_agent_id=C),
    ]
    lines = [agent(2, A), customer(5), agent(7, B)]
    (episode,) = segment(facts(), changes, lines, NOW).episodes
    assert episode.transfers == 2
    assert (episode.team, episode.final_team) == ("billing", "devices")
    assert (episode.first_agent_id, episode.resolved_by_agent_id) == (A, C)
    assert episode.queued_seconds == 60 + 180
    assert episode.handle_seconds == 180 + 300 + 480
    a, b, c = (episode.agents[x] for x in (A, B, C))
    assert (a.assigned_seconds, a.first_tar_seconds, a.response_handle_seconds) == (180, 120, 60)
    assert (b.assigned_seconds, b.tar_seconds, b.response_handle_seconds) == (300, 120, 120)
    assert (c.assigned_seconds, c.replies, c.resolved) == (480, 0, True)


def test_a_supervisor_assigning_a_queued_conversation_is_not_a_transfer():
    changes = [Change(at(0), "intake"), Change(at(1), "transfer_agent", to_agent_id=A)]
    (episode,) = segment(facts(), changes, [], NOW).episodes
    assert episode.transfers == 0
    assert episode.first_agent_id == A


@pytest.mark.parametrize(("gap_days", "reopened"), [(0, True), (8, False)])
def test_reopen_starts_a_new_episode_with_its_own_first_response(gap_days, reopened):
    later = 60 + gap_days * 24 * 60
    changes = [
        Change(at(0), "intake"),
        Change(at(1), "claim", to_agent_id=A),
        Change(at(3), "resolve", by_agent_id=A),
        Change(at(later + 1), "intake"),
        Change(at(later + 2), "claim", to_agent_id=B),
        Change(at(later + 6), "resolve", by_agent_id=B),
    ]
    lines = [agent(2, A), customer(later), agent(later + 5, B)]
    first, second = segment(facts(), changes, lines, NOW).episodes
    assert first.reopened is reopened
    assert first.first_contact_resolution is not reopened
    assert second.reopen is reopened
    assert second.first_response_seconds == 240  # from the second handoff, not the first
    assert second.resolution_seconds == 300
    assert first.first_response_seconds == 120


def test_snooze_and_waiting_on_the_customer_pause_async_handle_time_and_the_sla_clock():
    changes = [
        Change(at(0), "intake"),
        Change(at(1), "claim", to_agent_id=A),
        Change(at(3), "snooze", by_agent_id=A),
        Change(at(63), "unsnooze"),
        Change(at(90), "resolve", by_agent_id=A),
    ]
    lines = [agent(2, A), customer(70), agent(80, A)]
    result = segment(facts("async"), changes, lines, NOW)
    (episode,) = result.episodes
    assert [s.kind for s in result.segments] == [
        "bot",
        "queued",
        "agent",
        "snoozed",
        "agent",
        "resolved",
    ]
    assert episode.snoozed_seconds == 3600
    # waiting on the customer while A held it: 09:02-09:03 and 10:03-10:10, then 10:20-10:30
    assert episode.waiting_customer_seconds == 60 + 420 + 600
    assert episode.handle_seconds == 60 + 600  # 09:01-09:02 and 10:10-10:20
    assert episode.agents[A].handle_seconds == 660
    clock = SlaClock(episode, Target(3, "async", resolution_seconds=900), None, None)
    assert clock.elapsed(at(90)) == 720  # 90 minutes less 60 snoozed, less 18 waiting
    assert clock.resolution(NOW) == "met"
    tight = SlaClock(episode, Target(3, "async", resolution_seconds=600), None, None)
    assert tight.resolution(NOW) == "breached"


def test_in_sync_mode_waiting_on_the_customer_is_handle_time():
    changes = [
        Change(at(0), "intake"),
        Change(at(1), "claim", to_agent_id=A),
        Change(at(11), "resolve"),
    ]
    (episode,) = segment(facts("sync"), changes, [agent(2, A), customer(9)], NOW).episodes
    assert (episode.handle_seconds, episode.waiting_customer_seconds) == (600, 0)


def test_automatic_resolution_is_resolved_but_never_a_first_contact_resolution():
    unanswered = [Change(at(0), "intake"), Change(at(30), "auto_resolve")]
    (episode,) = segment(facts(), unanswered, [], NOW).episodes
    assert (episode.end_kind, episode.resolution_seconds) == ("auto", 1800)
    assert episode.abandoned and not episode.first_contact_resolution
    answered = [
        Change(at(0), "intake"),
        Change(at(1), "claim", to_agent_id=A),
        Change(at(30), "auto_resolve"),
    ]
    (episode,) = segment(facts(), answered, [agent(2, A)], NOW).episodes
    assert episode.end_kind == "auto"
    assert not episode.abandoned and not episode.first_contact_resolution
    assert episode.resolved_by_agent_id is None


def test_return_to_bot_ends_the_episode_and_later_bot_talk_is_a_contained_contact():
    changes = [
        Change(at(1), "intake"),
        Change(at(2), "claim", to_agent_id=A),
        Change(at(4), "return_to_bot", by_agent_id=A),
    ]
    lines = [customer(0), agent(3, A), customer(100)]
    result = segment(facts(), changes, lines, NOW)
    (episode,) = result.episodes
    assert episode.end_kind == "returned_to_bot"
    assert not episode.first_contact_resolution
    assert [(c.started_at, c.handed_off) for c in result.bot_contacts] == [
        (at(0), True),
        (at(100), False),
    ]


def test_a_reply_the_channel_refused_is_not_a_response():
    changes = [Change(at(0), "intake"), Change(at(1), "claim", to_agent_id=A)]
    lines = [agent(2, A, delivery="failed"), agent(3, A)]
    (episode,) = segment(facts(), changes, lines, NOW).episodes
    assert episode.first_response_seconds == 180
    assert episode.agent_replies == 1


def test_an_open_episode_runs_until_now():
    changes = [Change(at(0), "intake"), Change(at(10), "claim", to_agent_id=A)]
    (episode,) = segment(facts(), changes, [], at(25)).episodes
    assert episode.end_kind is None and not episode.abandoned
    assert (episode.wait_seconds, episode.handle_seconds) == (600, 900)
    assert episode.first_response_seconds is None


def test_outside_business_hours_reports_wall_clock_and_business_figures():
    calendar = load_calendar()  # bot/welcome.yml: billing follows 'support'
    friday = datetime(2026, 11, 27, 19, 30, tzinfo=timezone.utc)  # 19:30 in London
    monday = datetime(2026, 11, 30, 8, 5, tzinfo=timezone.utc)
    changes = [Change(friday, "intake"), Change(monday, "claim", to_agent_id=A)]
    lines = [Line(monday + timedelta(minutes=5), "agent", A)]
    schedule = calendar.schedule_for("billing")
    result = segment(
        Facts(friday, "webchat", "billing", 3, "sync"),
        changes,
        lines,
        NOW,
        schedule.open_seconds,
    )
    (episode,) = result.episodes
    assert episode.first_response_seconds == 2 * 86400 + 12 * 3600 + 40 * 60
    # Friday 19:30-20:00, Saturday 09:00-17:00, Monday 08:00-08:10 (Sunday closed)
    assert episode.first_response_business_seconds == 1800 + 8 * 3600 + 600
    hours = Target(3, "sync", first_response_seconds=12 * 3600, business_hours=True)
    assert SlaClock(episode, hours, calendar, "billing").first_response(NOW) == "met"
    wall = Target(3, "sync", first_response_seconds=12 * 3600)
    assert SlaClock(episode, wall, calendar, "billing").first_response(NOW) == "breached"
