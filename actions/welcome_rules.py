"""Welcome and business-hours rules from the designers' YAML file (bot/welcome.yml).

Pure module (no Rasa imports). Everything is validated at load time, and every error names the
file, the rule and the field, so a typo fails `make validate`/action-server start-up, not a chat.

Selection: rules are tried top to bottom and the first rule whose `when` matches decides. If
that rule was sent to this customer less than `once_every_days` ago, nothing is sent: the rules
are ordered from most to least specific, and falling through would greet a returning customer
with a message written for another situation (an in-hours greeting while the team is away).
A rule whose text needs `{next_open}` does not match when the team does not open within 14 days.

Run `python -m actions.welcome_rules [path]` to validate a file.
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from contracts.business_hours import (
    WEEKDAYS,
    Holiday,
    Schedule,
    TimeRange,
    check_ranges,
    parse_time_range,
)
from contracts.config_check import check_file
from contracts.values import CHANNELS, channel_name
from customer_texts import cached_until_changed

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES_PATH = REPO_ROOT / "bot" / "welcome.yml"
RULES_PATH_ENV = "WELCOME_RULES_PATH"

HOURS_CONDITIONS = ("open", "closed", "any")
DEFAULT_TEXT_KEY = "default"

_TOP_KEYS = (
    "version",
    "default_language",
    "languages",
    "schedules",
    "default_schedule",
    "queues",
    "rules",
    "greet_again",
)
_LANGUAGE_KEYS = ("next_open", "days")
_DAY_KEYS = ("today", "tomorrow", *WEEKDAYS)
_SCHEDULE_KEYS = ("timezone", "weekly", "holidays")
_HOLIDAY_KEYS = ("date", "name", "hours")
_RULE_KEYS = ("id", "when", "once_every_days", "text", "link")
_WHEN_KEYS = ("channels", "languages", "queues", "hours", "holiday")
_LINK_KEYS = ("url", "label")
_RULE_PLACEHOLDERS = {"next_open", "holiday"}
_NEXT_OPEN_PLACEHOLDERS = {"day", "time", "city"}


class WelcomeRulesError(ValueError):
    """A problem in the welcome rules file; the message names file, rule and field."""


@dataclass(frozen=True)
class WelcomeMessage:
    rule_id: str
    text: str
    link_url: str | None
    link_label: str | None


@dataclass(frozen=True)
class _Texts:
    """Texts per language; `default` (if any) serves languages without their own text."""

    by_language: Mapping[str, str]
    default_language: str

    def pick(self, language: str) -> tuple[str, str]:
        """The text for `language` and the language it is written in."""
        if language in self.by_language:
            return self.by_language[language], language
        if DEFAULT_TEXT_KEY in self.by_language:
            return self.by_language[DEFAULT_TEXT_KEY], self.default_language
        return self.by_language[self.default_language], self.default_language


@dataclass(frozen=True)
class _LanguageFormat:
    next_open: str
    days: Mapping[str, str]


@dataclass(frozen=True)
class _Rule:
    id: str
    channels: frozenset[str] | None
    languages: frozenset[str] | None
    queues: frozenset[str] | None
    hours: str
    holiday: bool | None
    once_every_days: int
    texts: _Texts
    link_url: str | None
    link_labels: _Texts | None

    def matches(
        self, channel: str, language: str, queue: str | None, is_open: bool, holiday: bool
    ) -> bool:
        return (
            (self.channels is None or channel in self.channels)
            and (self.languages is None or language in self.languages)
            and (self.queues is None or queue in self.queues)
            and (self.hours == "any" or (self.hours == "open") == is_open)
            and (self.holiday is None or self.holiday == holiday)
        )

    def on_cooldown(self, now: datetime, last_sent: Mapping[str, datetime]) -> bool:
        sent = last_sent.get(self.id)
        return (
            self.once_every_days > 0
            and sent is not None
            and now - sent < timedelta(days=self.once_every_days)
        )


class WelcomeConfig:
    """A validated welcome rules file."""

    def __init__(
        self,
        *,
        default_language: str,
        languages: Mapping[str, _LanguageFormat],
        schedules: Mapping[str, Schedule],
        default_schedule: str,
        queues: Mapping[str, str],
        rules: tuple[_Rule, ...],
        greet_again: _Texts,
    ) -> None:
        self.default_language = default_language
        self._languages = languages
        self._schedules = schedules
        self._default_schedule = default_schedule
        self._queues = queues
        self._rules = rules
        self._greet_again = greet_again

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._rules)

    def schedule_for(self, queue: str | None) -> Schedule:
        """The queue's schedule, or the default schedule for unknown or missing queues."""
        name = self._queues.get(_normalize_key(queue), self._default_schedule)
        return self._schedules[name]

    def language_of(self, language: str | None) -> str:
        """Primary subtag of `language` ("de-DE" -> "de"), or the default language."""
        primary = _normalize_key(language).replace("_", "-").split("-")[0]
        return primary or self.default_language

    def select(
        self,
        *,
        channel: str,
        language: str | None,
        queue: str | None,
        now: datetime,
        last_sent: Mapping[str, datetime],
    ) -> WelcomeMessage | None:
        """The welcome due now, or None (see the module docstring for the policy)."""
        channel = channel_name(_normalize_key(channel)) or ""
        language = self.language_of(language)
        queue = _normalize_key(queue) or None
        schedule = self.schedule_for(queue)
        is_open = schedule.is_open(now)
        holiday = schedule.holiday_name(now)
        for rule in self._rules:
            if not rule.matches(channel, language, queue, is_open, holiday is not None):
                continue
            template, text_language = rule.texts.pick(language)
            values: dict[str, str] = {}
            if "next_open" in _placeholders(template):
                opening = schedule.next_open(now)
                if opening is None:
                    continue
                values["next_open"] = self.format_opening(opening, now, text_language)
            if holiday is not None:
                values["holiday"] = holiday
            if rule.on_cooldown(now, last_sent):
                return None
            return WelcomeMessage(
                rule_id=rule.id,
                text=template.format(**values),
                link_url=rule.link_url,
                link_label=rule.link_labels.pick(language)[0] if rule.link_labels else None,
            )
        return None

    def greeting_again(self, language: str | None) -> str:
        """Short greeting for a customer who already got this period's welcome."""
        return self._greet_again.pick(self.language_of(language))[0]

    def format_opening(self, opening: datetime, now: datetime, language: str) -> str:
        """When the team is back, as `language` writes it (the default language's format for
        a language the file does not declare), e.g. "Monday at 08:00 (London time)"."""
        fmt = self._languages.get(language) or self._languages[self.default_language]
        days_ahead = (opening.date() - now.astimezone(opening.tzinfo).date()).days
        day_key = {0: "today", 1: "tomorrow"}.get(days_ahead, WEEKDAYS[opening.weekday()])
        return fmt.next_open.format(
            day=fmt.days[day_key], time=opening.strftime("%H:%M"), city=_city(opening)
        )


def rules_path() -> Path:
    """The rules file: env WELCOME_RULES_PATH (read on each call) or bot/welcome.yml."""
    return Path(os.environ.get(RULES_PATH_ENV) or DEFAULT_RULES_PATH)


def load_welcome_config(path: str | Path) -> WelcomeConfig:
    path = Path(path)
    ctx = _Context(_display(path))
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except OSError as exc:
        ctx.fail(f"cannot read: {exc.strerror}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        ctx.fail(f"invalid YAML{where}: {exc.problem}")
    except yaml.YAMLError as exc:
        ctx.fail(f"invalid YAML: {exc}")
    return _parse_config(ctx, raw)


# Like load_welcome_config, re-reading the file only when it changed on disk.
load_welcome_config_cached = cached_until_changed(
    load_welcome_config,
    lambda path, exc: WelcomeRulesError(f"{_display(path)}: cannot read: {exc.strerror}"),
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class _Context:
    """Where we are in the file, to build error messages."""

    file: str
    rule: str | None = None

    def for_rule(self, label: str) -> _Context:
        return _Context(self.file, label)

    def fail(self, message: str, field: str | None = None) -> NoReturn:
        where = " ".join(
            part
            for part in (
                self.rule and f"rule {self.rule}",
                field and f"field '{field}'",
            )
            if part
        )
        raise WelcomeRulesError(f"{self.file}: {where + ': ' if where else ''}{message}")

    def mapping(
        self, value: Any, field: str | None, allowed: tuple[str, ...] | None
    ) -> Mapping[str, Any]:
        """`value` as a mapping with string keys; `allowed=None` accepts any name."""
        if not isinstance(value, Mapping):
            self.fail(f"expected a mapping, got {_describe(value)}", field)
        for key in value:
            if not isinstance(key, str) or not key.strip():
                self.fail(f"expected a name, got key {key!r}", field)
            if allowed is not None and key not in allowed:
                self.fail(
                    f"unknown key; allowed: {', '.join(allowed)}",
                    f"{field}.{key}" if field else key,
                )
        return value

    def string(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"expected a non-empty string, got {_describe(value)}", field)
        return value

    def string_list(self, value: Any, field: str) -> list[str]:
        if not isinstance(value, list) or not value:
            self.fail(f"expected a non-empty list, got {_describe(value)}", field)
        return [self.string(item, f"{field}[{i}]") for i, item in enumerate(value)]

    def choices(self, value: Any, field: str, allowed: Iterable[str]) -> frozenset[str]:
        allowed = tuple(allowed)
        items = self.string_list(value, field)
        for i, item in enumerate(items):
            if item not in allowed:
                self.fail(f"expected one of {', '.join(allowed)}, got {item!r}", f"{field}[{i}]")
        return frozenset(items)


def _parse_config(ctx: _Context, raw: Any) -> WelcomeConfig:
    top = ctx.mapping(raw, None, _TOP_KEYS)
    if top.get("version") != 1:
        ctx.fail(f"expected 1, got {_describe(top.get('version'))}", "version")
    default_language = ctx.string(top.get("default_language"), "default_language")
    languages = _parse_languages(ctx, top.get("languages"))
    if default_language not in languages:
        ctx.fail(f"{default_language!r} is not declared under 'languages'", "default_language")
    schedules = {
        name: _parse_schedule(ctx, name, spec)
        for name, spec in ctx.mapping(top.get("schedules"), "schedules", None).items()
    }
    if not schedules:
        ctx.fail("declare at least one schedule", "schedules")
    default_schedule = top.get("default_schedule", "support")
    if default_schedule not in schedules:
        ctx.fail(_unknown_schedule(default_schedule, schedules), "default_schedule")
    queues = ctx.mapping(top.get("queues", {}), "queues", None)
    for queue, schedule in queues.items():
        if schedule not in schedules:
            ctx.fail(_unknown_schedule(schedule, schedules), f"queues.{queue}")
    text_ctx = _TextContext(ctx, default_language, frozenset(languages))
    rules = _parse_rules(ctx, top.get("rules"), text_ctx, frozenset(queues))
    return WelcomeConfig(
        default_language=default_language,
        languages=languages,
        schedules=schedules,
        default_schedule=default_schedule,
        queues={_normalize_key(q): s for q, s in queues.items()},
        rules=rules,
        greet_again=text_ctx.texts(top.get("greet_again"), "greet_again", set()),
    )


def _parse_languages(ctx: _Context, raw: Any) -> dict[str, _LanguageFormat]:
    languages = {}
    for code, spec in ctx.mapping(raw, "languages", None).items():
        field = f"languages.{code}"
        spec = ctx.mapping(spec, field, _LANGUAGE_KEYS)
        template = ctx.string(spec.get("next_open"), f"{field}.next_open")
        _check_placeholders(ctx, template, f"{field}.next_open", _NEXT_OPEN_PLACEHOLDERS)
        days = ctx.mapping(spec.get("days"), f"{field}.days", _DAY_KEYS)
        for key in _DAY_KEYS:
            ctx.string(days.get(key), f"{field}.days.{key}")
        languages[code] = _LanguageFormat(next_open=template, days=dict(days))
    return languages


def _parse_schedule(ctx: _Context, name: str, raw: Any) -> Schedule:
    field = f"schedules.{name}"
    spec = ctx.mapping(raw, field, _SCHEDULE_KEYS)
    tz_name = ctx.string(spec.get("timezone"), f"{field}.timezone")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.fail(
            f"unknown time zone {tz_name!r}; use an IANA name such as 'Europe/London'",
            f"{field}.timezone",
        )
    weekly_raw = ctx.mapping(spec.get("weekly"), f"{field}.weekly", WEEKDAYS)
    weekly = tuple(
        _parse_ranges(ctx, weekly_raw.get(day) or [], f"{field}.weekly.{day}") for day in WEEKDAYS
    )
    holidays_raw = spec.get("holidays") or []
    if not isinstance(holidays_raw, list):
        ctx.fail(f"expected a list of days, got {_describe(holidays_raw)}", f"{field}.holidays")
    holidays: list[Holiday] = []
    for i, item in enumerate(holidays_raw):
        holidays.append(_parse_holiday(ctx, item, f"{field}.holidays[{i}]"))
        if holidays[-1].day in {h.day for h in holidays[:-1]}:
            ctx.fail(f"date {holidays[-1].day} is listed twice", f"{field}.holidays[{i}].date")
    return Schedule(name=name, timezone=tz, weekly=weekly, holidays=tuple(holidays))


def _parse_holiday(ctx: _Context, raw: Any, field: str) -> Holiday:
    spec = ctx.mapping(raw, field, _HOLIDAY_KEYS)
    day = spec.get("date")
    if isinstance(day, str):
        with suppress(ValueError):
            day = date.fromisoformat(day)
    if not isinstance(day, date) or isinstance(day, datetime):
        ctx.fail(f"expected a date like 2026-12-25, got {_describe(day)}", f"{field}.date")
    return Holiday(
        day=day,
        name=ctx.string(spec.get("name"), f"{field}.name"),
        hours=_parse_ranges(ctx, spec.get("hours") or [], f"{field}.hours"),
    )


def _parse_ranges(ctx: _Context, raw: Any, field: str) -> tuple[TimeRange, ...]:
    if not isinstance(raw, list):
        ctx.fail(f"expected a list of 'HH:MM-HH:MM' ranges, got {_describe(raw)}", field)
    ranges = []
    for i, text in enumerate(raw):
        try:
            ranges.append(parse_time_range(text))
        except ValueError as exc:
            ctx.fail(str(exc), f"{field}[{i}]")
    try:
        return check_ranges(tuple(ranges))
    except ValueError as exc:
        ctx.fail(str(exc), field)


@dataclass(frozen=True)
class _TextContext:
    ctx: _Context
    default_language: str
    languages: frozenset[str]

    def texts(
        self, raw: Any, field: str, placeholders: set[str], ctx: _Context | None = None
    ) -> _Texts:
        """Texts per language (a plain string is the `default` text)."""
        ctx = ctx or self.ctx
        if isinstance(raw, str):
            raw = {DEFAULT_TEXT_KEY: raw}
        spec = ctx.mapping(raw, field, (*sorted(self.languages), DEFAULT_TEXT_KEY))
        if DEFAULT_TEXT_KEY not in spec and self.default_language not in spec:
            ctx.fail(
                f"needs a text for the default language {self.default_language!r} "
                f"or a '{DEFAULT_TEXT_KEY}' text",
                field,
            )
        for key, text in spec.items():
            ctx.string(text, f"{field}.{key}")
            _check_placeholders(ctx, text, f"{field}.{key}", placeholders)
        return _Texts(by_language=dict(spec), default_language=self.default_language)


def _parse_rules(
    ctx: _Context, raw: Any, text_ctx: _TextContext, queues: frozenset[str]
) -> tuple[_Rule, ...]:
    if not isinstance(raw, list) or not raw:
        ctx.fail(f"expected a non-empty list of rules, got {_describe(raw)}", "rules")
    rules: list[_Rule] = []
    for index, item in enumerate(raw):
        rule_id = item.get("id") if isinstance(item, Mapping) else None
        label = f"'{rule_id}'" if isinstance(rule_id, str) else f"#{index + 1}"
        rule_ctx = ctx.for_rule(label)
        rule = _parse_rule(rule_ctx, item, text_ctx, queues)
        if rule.id in {r.id for r in rules}:
            rule_ctx.fail("duplicate rule id; every rule needs its own id", "id")
        rules.append(rule)
    return tuple(rules)


def _parse_rule(ctx: _Context, raw: Any, text_ctx: _TextContext, queues: frozenset[str]) -> _Rule:
    spec = ctx.mapping(raw, None, _RULE_KEYS)
    rule_id = ctx.string(spec.get("id"), "id")
    when = ctx.mapping(spec.get("when", {}), "when", _WHEN_KEYS)
    hours = when.get("hours", "any")
    if hours not in HOURS_CONDITIONS:
        ctx.fail(f"expected one of {', '.join(HOURS_CONDITIONS)}, got {hours!r}", "when.hours")
    holiday = when.get("holiday")
    if holiday is not None and not isinstance(holiday, bool):
        ctx.fail(f"expected true or false, got {_describe(holiday)}", "when.holiday")
    every = spec.get("once_every_days", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        ctx.fail(f"expected a whole number of days >= 0, got {_describe(every)}", "once_every_days")
    placeholders = set()
    if hours == "closed":
        placeholders.add("next_open")
    if holiday:
        placeholders.add("holiday")
    texts = text_ctx.texts(spec.get("text"), "text", placeholders, ctx)
    link_url, link_labels = None, None
    if "link" in spec:
        link = ctx.mapping(spec["link"], "link", _LINK_KEYS)
        link_url = ctx.string(link.get("url"), "link.url")
        if not link_url.startswith(("https://", "http://")):
            ctx.fail(f"expected an http(s) URL, got {link_url!r}", "link.url")
        link_labels = text_ctx.texts(link.get("label"), "link.label", set(), ctx)

    def optional_choices(key: str, allowed: Iterable[str]) -> frozenset[str] | None:
        return ctx.choices(when[key], f"when.{key}", allowed) if key in when else None

    return _Rule(
        id=rule_id,
        channels=optional_choices("channels", CHANNELS),
        languages=optional_choices("languages", sorted(text_ctx.languages)),
        queues=optional_choices("queues", sorted(queues)),
        hours=hours,
        holiday=holiday,
        once_every_days=every,
        texts=texts,
        link_url=link_url,
        link_labels=link_labels,
    )


def _check_placeholders(ctx: _Context, text: str, field: str, allowed: set[str]) -> None:
    try:
        names = _placeholders(text)
    except ValueError as exc:
        ctx.fail(f"bad placeholder syntax ({exc}); write {{{{ and }}}} for literal braces", field)
    for name in sorted(names - allowed):
        hint = f"allowed here: {', '.join(sorted(allowed))}" if allowed else "none allowed here"
        if name in _RULE_PLACEHOLDERS - allowed:
            hint += "; {next_open} needs when.hours: closed, {holiday} needs when.holiday: true"
        ctx.fail(f"unknown placeholder {{{name}}} ({hint})", field)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _unknown_schedule(name: Any, schedules: Mapping[str, Schedule]) -> str:
    return f"unknown schedule {name!r}; declared: {', '.join(schedules)}"


def _normalize_key(value: str | None) -> str:
    return (value or "").strip().lower()


def _city(at: datetime) -> str:
    return str(at.tzinfo).rsplit("/", 1)[-1].replace("_", " ")


def _describe(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    return check_file(
        argv,
        rules_path(),
        load_welcome_config,
        WelcomeRulesError,
        lambda config: f"{len(config.rule_ids)} rules",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
