"""The handoff policy: priority, mode and team per care scenario, and reasons that explain them."""

from __future__ import annotations

import pytest

from actions.priority import (
    FIRST_RESPONSE_MINUTES,
    FRUSTRATION_HIGH,
    Mode,
    Priority,
    Team,
    TriageFacts,
    decide,
)


def scenario(name: str, expected: tuple[Priority, Mode, Team, str, str], **facts: object):
    """One row: the facts, then (priority, mode, team, a tag, words a reason must contain)."""
    return pytest.param(TriageFacts(**facts), *expected, id=name)


URGENT_DEVICES = (Priority.URGENT, Mode.SYNC, Team.DEVICES)
SCENARIOS = [
    scenario(
        "smart-lock-failing",
        (*URGENT_DEVICES, "safety", "smart lock failure"),
        topic="technical",
        description="My front door lock won't unlock",
        device_name="smart lock",
    ),
    scenario(
        "smoke-alarm",
        (*URGENT_DEVICES, "safety", "alarm"),
        topic="technical",
        description="The smoke alarm keeps beeping at night",
    ),
    scenario(
        "locked-out",
        (*URGENT_DEVICES, "safety", "locked out"),
        topic="other",
        description="I'm locked out of my house, the keypad is dead",
    ),
    scenario(
        "hacked-account",
        (Priority.URGENT, Mode.SYNC, Team.ACCOUNTS, "safety", "account compromised"),
        topic="account",
        description="I think my account was hacked, strange logins",
    ),
    scenario(
        "frustrated",
        (Priority.HIGH, Mode.SYNC, Team.BILLING, "frustrated", "0.82 (shouting, profanity)"),
        topic="billing",
        description="you charged me twice, this is ridiculous",
        frustration_score=0.82,
        frustration_signals=("shouting", "profanity"),
    ),
    scenario(
        "escalated-for-frustration",
        (Priority.HIGH, Mode.SYNC, Team.CARE, "frustrated", "escalated for frustration"),
        topic="complaint",
        description="nobody answers",
        escalation_reason="frustration",
        frustration_score=0.5,
        frustration_signals=("long_wait",),
    ),
    scenario(
        "repeat-contact",
        (Priority.HIGH, Mode.SYNC, Team.DEVICES, "repeat-contact", "repeat contact"),
        topic="technical",
        description="the camera is offline",
        frustration_score=0.4,
        frustration_signals=("repeated_contact",),
    ),
    scenario(
        "billing-device-app",
        (Priority.HIGH, Mode.SYNC, Team.BILLING, "multi-system", "billing + devices"),
        topic="billing",
        description="The subscription for my doorbell camera was billed but the app shows no plan",
    ),
    scenario(
        "account-and-order",
        (Priority.HIGH, Mode.SYNC, Team.ACCOUNTS, "multi-system", "account + order"),
        topic="account",
        description="I changed my account email and now my order LH12345678 is lost",
    ),
    scenario(
        "ordinary-problem",
        (Priority.NORMAL, Mode.ASYNC, Team.DEVICES, "technical", "ordinary technical request"),
        topic="technical",
        description="My thermostat shows the wrong temperature",
        device_name="thermostat",
    ),
    scenario(
        "how-to",
        (Priority.LOW, Mode.ASYNC, Team.CARE, "how-to", "how-to question"),
        description="how do I set a heating schedule?",
        latest_intent="faq/heating_schedule",
    ),
    scenario(
        "brand-love",
        (Priority.LOW, Mode.ASYNC, Team.CARE, "praise", "praise"),
        description="I LOVE my new doorbell, best purchase ever!!",
        latest_intent="praise",
    ),
]


@pytest.mark.parametrize(("facts", "priority", "mode", "team", "tag", "explained_by"), SCENARIOS)
def test_scenario(
    facts: TriageFacts, priority: Priority, mode: Mode, team: Team, tag: str, explained_by: str
) -> None:
    decision = decide(facts)

    assert (decision.priority, decision.mode, decision.team) == (priority, mode, team)
    assert tag in decision.tags
    assert decision.first_response_minutes == FIRST_RESPONSE_MINUTES[priority.name]
    assert any(explained_by in reason for reason in decision.reasons), decision.reasons
    assert any(f"{decision.first_response_minutes} min" in reason for reason in decision.reasons)


def test_reason_names_the_score_threshold_and_signals() -> None:
    decision = decide(
        TriageFacts(frustration_score=0.82, frustration_signals=("shouting", "profanity"))
    )

    assert f"frustration 0.82 (shouting, profanity) ≥ {FRUSTRATION_HIGH} → high priority" in (
        decision.reasons
    )


def test_the_most_urgent_rule_wins() -> None:
    decision = decide(
        TriageFacts(
            topic="technical",
            description="how do I stop the smoke alarm beeping, fire brigade is here",
            frustration_score=0.9,
        )
    )

    assert decision.priority is Priority.URGENT
    assert {"safety", "frustrated"} <= set(decision.tags)


def test_customer_choice_of_mode_wins_and_the_reason_says_policy_differed() -> None:
    decision = decide(
        TriageFacts(topic="technical", description="my lock is jammed", mode_preference="async")
    )

    assert decision.priority is Priority.URGENT
    assert decision.mode is Mode.ASYNC
    assert "customer chose async; policy would have chosen sync (urgent priority)" in (
        decision.reasons
    )


def test_a_problem_is_not_a_how_to_question() -> None:
    decision = decide(
        TriageFacts(topic="technical", description="how do I fix it, the hub won't connect")
    )

    assert decision.priority is Priority.NORMAL


def test_priorities_are_ordered_and_have_ordered_targets() -> None:
    levels = sorted(Priority)

    assert [p.name for p in levels] == ["URGENT", "HIGH", "NORMAL", "LOW"]
    targets = [p.first_response_minutes for p in levels]
    assert targets == sorted(targets)


def test_tags_carry_device_and_escalation_reason_without_duplicates() -> None:
    decision = decide(
        TriageFacts(
            topic="technical",
            description="doorbell camera offline",
            device_name="Doorbell Camera",
            escalation_reason="human_request",
        )
    )

    assert decision.tags[:2] == ("technical", "doorbell camera")
    assert "human_request" in decision.tags
    assert len(set(decision.tags)) == len(decision.tags)
