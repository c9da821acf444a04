"""The CSAT eligibility policy (bot/csat.yml): each rule stops the survey with its reason, can be
switched off, and every mistake in the file names the rule and the field."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from handoff.csat import (
    DEFAULT_POLICY_PATH,
    CsatPolicyError,
    Facts,
    decide,
    load_policy,
    parse_policy,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
SHIPPED = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
ELIGIBLE = Facts(
    channel="whatsapp",
    person_wrote=True,
    resolved_by_person=True,
    agent_opted_out=False,
    surveyed_before=False,
    customer_surveyed_at=None,
    last_customer_message_at=NOW - timedelta(minutes=5),
    now=NOW,
)


def policy_with(**rules: Any):
    data = copy.deepcopy(SHIPPED)
    data["rules"].update(rules)
    return parse_policy(data)


def test_the_shipped_policy_sends_to_an_eligible_conversation():
    decision = decide(load_policy(), ELIGIBLE)
    assert (decision.send, decision.rule, decision.due_at) == (True, None, NOW)


@pytest.mark.parametrize(
    ("facts", "rule", "reason"),
    [
        ({"person_wrote": False}, "handled_by_person", "no person wrote"),
        ({"resolved_by_person": False}, "automatic_resolution", "resolved automatically"),
        ({"agent_opted_out": True}, "agent_opt_out", "without survey"),
        ({"surveyed_before": True}, "once_per_conversation", "surveyed already"),
        ({"customer_surveyed_at": NOW - timedelta(days=29)}, "per_customer", "within 30 days"),
        (
            {"last_customer_message_at": NOW - timedelta(hours=25)},
            "channel_window",
            "24 h window",
        ),
        ({"last_customer_message_at": None}, "channel_window", "24 h window"),
    ],
)
def test_each_rule_stops_the_survey_with_its_reason_and_can_be_switched_off(facts, rule, reason):
    stopped = decide(load_policy(), replace(ELIGIBLE, **facts))
    assert (stopped.send, stopped.rule) == (False, rule)
    assert reason in (stopped.reason or "")
    off = policy_with(**{rule: {"enabled": False}})
    assert decide(off, replace(ELIGIBLE, **facts)).send is True


def test_boundaries_of_the_customer_limit_and_the_window():
    policy = load_policy()
    assert decide(policy, replace(ELIGIBLE, customer_surveyed_at=NOW - timedelta(days=31))).send
    web = replace(ELIGIBLE, channel="webchat", last_customer_message_at=NOW - timedelta(days=9))
    assert decide(policy, web).send  # web chat has no window


def test_a_delay_counts_against_the_window_and_a_template_can_be_used_outside_it():
    data = copy.deepcopy(SHIPPED)
    data["survey"]["delay_minutes"] = 60
    data["rules"]["channel_window"]["channels"]["whatsapp"] = {
        "hours": 24,
        "outside": "template",
        "template": "csat_followup",
    }
    policy = parse_policy(data)
    late = replace(ELIGIBLE, last_customer_message_at=NOW - timedelta(hours=23, minutes=30))
    decision = decide(policy, late)
    assert (decision.send, decision.template) == (True, "csat_followup")
    assert decision.due_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "field 'version': expected 1"),
        (lambda d: d["survey"].update(scale="stars"), "field 'survey.scale'"),
        (lambda d: d["survey"].update(delay_minutes=-1), "field 'survey.delay_minutes'"),
        (lambda d: d["rules"].update(per_customr={}), "field 'rules.per_customr': unknown key"),
        (
            lambda d: d["rules"]["per_customer"].update(days=0),
            "rule 'per_customer' field 'days': expected a whole number >= 1",
        ),
        (
            lambda d: d["rules"]["agent_opt_out"].update(enabled="yes"),
            "rule 'agent_opt_out' field 'enabled'",
        ),
        (
            lambda d: d["rules"]["channel_window"]["channels"]["whatsapp"].update(hours="a day"),
            "rule 'channel_window' field 'channels.whatsapp.hours'",
        ),
        (
            lambda d: d["rules"]["channel_window"]["channels"]["whatsapp"].update(
                outside="template"
            ),
            "rule 'channel_window' field 'channels.whatsapp.template'",
        ),
        (
            lambda d: d["rules"]["channel_window"]["channels"].update(sms={"hours": 1}),
            "rule 'channel_window' field 'channels.sms': unknown key",
        ),
    ],
)
def test_mistakes_name_the_rule_and_the_field(change, message):
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(CsatPolicyError) as raised:
        parse_policy(data)
    assert str(raised.value).startswith("bot/csat.yml: ")
    assert message in str(raised.value)
