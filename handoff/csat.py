"""The CSAT survey's eligibility policy from the designers' YAML file (bot/csat.yml).

Pure module: the file is validated at load time and every error names the file, the rule and
the field; `decide` applies the rules to what the service knows about a resolved conversation
and says whether the survey may go out (as free text in the bot, or as one of the file's
channel templates outside the channel's window), or which rule stopped it and why.

Run `python -m handoff.csat [path]` to check a file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from contracts.channel_windows import TEMPLATE_CHANNELS
from contracts.config_check import check_file
from contracts.delivery import MAX_TEMPLATE_BUTTONS, Template
from contracts.survey import answer_payload

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[1] / "bot" / "csat.yml"
SCALES = {"csat_5": (1, 5), "nps_10": (0, 10)}
RULES = (
    "handled_by_person",
    "automatic_resolution",
    "agent_opt_out",
    "once_per_conversation",
    "per_customer",
    "channel_window",
)
REASONS = {
    "handled_by_person": "no person wrote in the conversation",
    "automatic_resolution": "resolved automatically, not by a person",
    "agent_opt_out": "the agent resolved without survey",
    "once_per_conversation": "this conversation was surveyed already",
    "per_customer": "the customer was surveyed within {days} days",
    "channel_window": "outside the channel's {hours} h window",
}
OUTSIDE = ("skip", "template")


class CsatPolicyError(ValueError):
    """A problem in the CSAT policy file; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Window:
    hours: int
    outside: str = "skip"
    template: str | None = None


@dataclass(frozen=True)
class SurveyTemplate:
    """An approved channel template that asks for the score: what it says and its quick-reply
    buttons (title, score) in order, as approved with the channel."""

    name: str
    language: str
    text: str
    buttons: tuple[tuple[str, int], ...]

    def to_send(self) -> Template:
        """The deliver request's template: each button's payload answers with its score."""
        payloads = tuple(answer_payload(score) for _, score in self.buttons)
        return Template(self.name, self.language, buttons=payloads)


@dataclass(frozen=True)
class CsatPolicy:
    scale: str = "csat_5"
    comment: bool = True
    delay_minutes: int = 0
    enabled: frozenset[str] = frozenset(RULES)
    per_customer_days: int = 30
    windows: Mapping[str, Window] = field(default_factory=dict)
    templates: Mapping[str, SurveyTemplate] = field(default_factory=dict)

    @property
    def score_range(self) -> tuple[int, int]:
        return SCALES[self.scale]


@dataclass(frozen=True)
class Facts:
    """What the service knows when a conversation is resolved."""

    channel: str | None
    person_wrote: bool
    resolved_by_person: bool
    agent_opted_out: bool
    surveyed_before: bool  # this conversation
    customer_surveyed_at: datetime | None  # the customer's latest survey, any conversation
    last_customer_message_at: datetime | None
    now: datetime


@dataclass(frozen=True)
class Decision:
    send: bool
    rule: str | None = None  # the rule that stopped it
    reason: str | None = None
    template: str | None = None  # send as this channel template (outside the window)
    due_at: datetime | None = None


def decide(policy: CsatPolicy, facts: Facts) -> Decision:
    """The first enabled rule (in RULES order) that stops the survey, or send it when due."""
    due = facts.now + timedelta(minutes=policy.delay_minutes)
    checks = {
        "handled_by_person": not facts.person_wrote,
        "automatic_resolution": not facts.resolved_by_person,
        "agent_opt_out": facts.agent_opted_out,
        "once_per_conversation": facts.surveyed_before,
        "per_customer": facts.customer_surveyed_at is not None
        and facts.customer_surveyed_at > facts.now - timedelta(days=policy.per_customer_days),
    }
    for rule, stops in checks.items():
        if rule in policy.enabled and stops:
            reason = REASONS[rule].format(days=policy.per_customer_days)
            return Decision(False, rule, reason)
    window = policy.windows.get(facts.channel or "")
    if "channel_window" in policy.enabled and window is not None and window.hours > 0:
        last = facts.last_customer_message_at
        if last is None or due > last + timedelta(hours=window.hours):
            if window.outside == "template":
                return Decision(True, template=window.template, due_at=due)
            reason = REASONS["channel_window"].format(hours=window.hours)
            return Decision(False, "channel_window", reason)
    return Decision(True, due_at=due)


def load_policy(path: Path | str = DEFAULT_POLICY_PATH) -> CsatPolicy:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CsatPolicyError(f"{path}: cannot read the policy ({error})") from None
    return parse_policy(data, str(path))


def parse_policy(data: Any, source: str = "bot/csat.yml") -> CsatPolicy:
    def fail(rule: str | None, field_name: str, problem: str) -> CsatPolicyError:
        where = f"rule '{rule}' field '{field_name}'" if rule else f"field '{field_name}'"
        return CsatPolicyError(f"{source}: {where}: {problem}")

    def whole(value: Any, rule: str | None, name: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise fail(rule, name, f"expected a whole number >= {low}, got {value!r}")
        return value

    def mapping(value: Any, rule: str | None, name: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fail(rule, name, f"expected a mapping, got {value!r}")
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise fail(
                rule,
                f"{name}.{unknown[0]}" if name else unknown[0],
                f"unknown key; expected one of {', '.join(keys)}",
            )
        return value

    top = mapping(data, None, "", ("version", "survey", "rules", "templates"))
    if top.get("version") != 1:
        raise fail(None, "version", f"expected 1, got {top.get('version')!r}")
    survey = mapping(top.get("survey", {}), None, "survey", ("scale", "comment", "delay_minutes"))
    scale = survey.get("scale", "csat_5")
    if scale not in SCALES:
        raise fail(None, "survey.scale", f"expected one of {', '.join(SCALES)}, got {scale!r}")
    comment = survey.get("comment", True)
    if not isinstance(comment, bool):
        raise fail(None, "survey.comment", f"expected true or false, got {comment!r}")
    delay = whole(survey.get("delay_minutes", 0), None, "survey.delay_minutes")
    templates = _templates(top.get("templates", {}), SCALES[scale], fail, mapping)
    rules = mapping(top.get("rules", {}), None, "rules", RULES)
    enabled = set()
    days = 30
    windows: dict[str, Window] = {}
    for rule in RULES:
        keys = {"per_customer": ("enabled", "days"), "channel_window": ("enabled", "channels")}
        options = mapping(rules.get(rule, {}), rule, "", keys.get(rule, ("enabled",)))
        on = options.get("enabled", True)
        if not isinstance(on, bool):
            raise fail(rule, "enabled", f"expected true or false, got {on!r}")
        if on:
            enabled.add(rule)
        if rule == "per_customer":
            days = whole(options.get("days", 30), rule, "days", 1)
        if rule == "channel_window":
            channels = mapping(
                options.get("channels", {}), rule, "channels", ("whatsapp", "messenger", "webchat")
            )
            for channel, spec in channels.items():
                name = f"channels.{channel}"
                spec = mapping(spec, rule, name, ("hours", "outside", "template"))
                hours = whole(spec.get("hours"), rule, f"{name}.hours")
                outside = spec.get("outside", "skip")
                if outside not in OUTSIDE:
                    raise fail(
                        rule,
                        f"{name}.outside",
                        f"expected one of {', '.join(OUTSIDE)}, got {outside!r}",
                    )
                template = spec.get("template")
                if outside == "template":
                    if channel not in TEMPLATE_CHANNELS:
                        raise fail(rule, f"{name}.outside", f"{channel} has no templates")
                    if not isinstance(template, str) or not template:
                        raise fail(
                            rule, f"{name}.template", "outside: template needs a template name"
                        )
                    if template not in templates:
                        raise fail(
                            rule, f"{name}.template", f"no template {template!r} under templates"
                        )
                windows[channel] = Window(hours, outside, template)
    return CsatPolicy(scale, comment, delay, frozenset(enabled), days, windows, templates)


Fail = Callable[[str | None, str, str], CsatPolicyError]
Checked = Callable[[Any, str | None, str, tuple[str, ...]], dict[str, Any]]


def _templates(
    data: Any, scale: tuple[int, int], fail: Fail, mapping: Checked
) -> dict[str, SurveyTemplate]:
    """The `templates` section: name -> what the approved template says and its buttons."""
    if not isinstance(data, dict):
        raise fail(None, "templates", f"expected a mapping, got {data!r}")
    templates = {}
    for name, spec in data.items():
        at = f"templates.{name}"
        spec = mapping(spec, None, at, ("language", "text", "buttons"))
        words = {}
        for key in ("language", "text"):
            value = spec.get(key)
            if not isinstance(value, str) or not value.strip():
                raise fail(None, f"{at}.{key}", f"expected a non-empty string, got {value!r}")
            words[key] = value
        buttons = spec.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TEMPLATE_BUTTONS:
            raise fail(None, f"{at}.buttons", f"expected 1 to {MAX_TEMPLATE_BUTTONS} buttons")
        low, high = scale
        shown: list[tuple[str, int]] = []
        for index, button in enumerate(buttons):
            where = f"{at}.buttons[{index}]"
            button = mapping(button, None, where, ("title", "score"))
            title, score = button.get("title"), button.get("score")
            if not isinstance(title, str) or not title.strip():
                raise fail(None, f"{where}.title", f"expected a non-empty string, got {title!r}")
            if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
                raise fail(None, f"{where}.score", f"expected a score from {low} to {high}")
            if score in {s for _, s in shown}:
                raise fail(None, f"{where}.score", f"score {score} has a button already")
            shown.append((title, score))
        templates[str(name)] = SurveyTemplate(
            str(name), words["language"], words["text"], tuple(shown)
        )
    return templates


def main(argv: list[str]) -> int:
    return check_file(
        argv,
        DEFAULT_POLICY_PATH,
        load_policy,
        CsatPolicyError,
        lambda policy: f"{policy.scale}, rules on: {', '.join(sorted(policy.enabled))}",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
