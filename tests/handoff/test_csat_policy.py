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
            {"channel": "messenger", "last_customer_message_at": NOW - timedelta(hours=25)},
            "channel_window",
            "24 h window",
        ),
        ({"channel": "messenger", "last_customer_message_at": None}, "channel_window", "24 h"),
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


def test_outside_whatsapp_s_window_the_survey_goes_as_the_template_delay_included():
    data = copy.deepcopy(SHIPPED)
    data["survey"]["delay_minutes"] = 60
    policy = parse_policy(data)
    assert decide(policy, ELIGIBLE).template is None  # within the window: the bot asks
    late = replace(ELIGIBLE, last_customer_message_at=NOW - timedelta(hours=23, minutes=30))
    decision = decide(policy, late)
    assert (decision.send, decision.template) == (True, "care_satisfaction")
    assert decision.due_at == NOW + timedelta(hours=1)
    template = policy.templates["care_satisfaction"]
    assert [score for _, score in template.buttons] == [5, 4, 3, 2, 1]
    assert template.to_send().buttons[1] == '/csat_answer{"csat_score":4}'
    skipping = copy.deepcopy(data)
    skipping["rules"]["channel_window"]["channels"]["whatsapp"] = {"hours": 24, "outside": "skip"}
    assert decide(parse_policy(skipping), late).rule == "channel_window"


def whatsapp_window(**spec: Any):
    return lambda d: d["rules"]["channel_window"]["channels"]["whatsapp"].update(spec)


def template_buttons(buttons: Any):
    return lambda d: d["templates"]["care_satisfaction"].update(buttons=buttons)


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
            whatsapp_window(template=None),
            "rule 'channel_window' field 'channels.whatsapp.template': outside: template needs",
        ),
        (
            whatsapp_window(template="csat_follow_up"),
            "field 'channels.whatsapp.template': no template 'csat_follow_up' under templates",
        ),
        (
            lambda d: d["rules"]["channel_window"]["channels"]["messenger"].update(
                outside="template", template="care_satisfaction"
            ),
            "rule 'channel_window' field 'channels.messenger.outside': messenger has no templates",
        ),
        (
            lambda d: d["templates"]["care_satisfaction"].update(language=""),
            "field 'templates.care_satisfaction.language'",
        ),
        (
            template_buttons([{"title": "Great", "score": 6}]),
            "field 'templates.care_satisfaction.buttons[0].score': expected a score from 1 to 5",
        ),
        (
            template_buttons([{"title": "Great", "score": 5}, {"title": "Top", "score": 5}]),
            "field 'templates.care_satisfaction.buttons[1].score': score 5 has a button already",
        ),
        (
            template_buttons([{"title": str(n), "score": 3} for n in range(11)]),
            "field 'templates.care_satisfaction.buttons': expected 1 to 10 buttons",
        ),
        (
            template_buttons([{"title": "Great", "score": 5, "emoji": "*"}]),
            "field 'templates.care_satisfaction.buttons[0].emoji': unknown key",
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
