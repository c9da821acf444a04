"""The channel templates offered when a reply window is closed (handoff/reply_templates.yml).

Pure module: the file is checked when the service starts; an error names the file and the
field. `fill` gives a conversation's parameters (the canned replies' placeholders, or the
entry's fallback) and the text the customer will read.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contracts.channel_windows import TEMPLATE_CHANNELS
from contracts.delivery import Template

DEFAULT_PATH = Path(__file__).resolve().parent / "reply_templates.yml"


class ReplyTemplateError(ValueError):
    """A problem in the templates file; the message names the file and the field."""


@dataclass(frozen=True)
class ReplyTemplate:
    name: str
    language: str
    text: str
    parameters: tuple[str, ...] = ()
    fallback: Mapping[str, str] = field(default_factory=dict)

    def fill(self, value_of: Callable[[str], str | None]) -> tuple[Template, str]:
        """The template to deliver and its text, each parameter from `value_of` or fallback."""
        values = {name: value_of(name) or self.fallback.get(name, "") for name in self.parameters}
        template = Template(self.name, self.language, tuple(values[n] for n in self.parameters))
        return template, self.text.format(**values)


def parse_templates(
    data: Any, known: frozenset[str], source: str = "handoff/reply_templates.yml"
) -> dict[str, ReplyTemplate]:
    """Templates per channel; `known`: the placeholder names a parameter may use."""

    def fail(where: str, problem: str) -> ReplyTemplateError:
        return ReplyTemplateError(f"{source}: field '{where}': {problem}")

    def words(value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(where, f"expected a non-empty string, got {value!r}")
        return value

    if not isinstance(data, dict) or data.get("version") != 1:
        raise fail("version", "expected 1")
    channels = data.get("templates") or {}
    if not isinstance(channels, dict):
        raise fail("templates", "expected a mapping of channel to template")
    templates = {}
    for channel, spec in channels.items():
        at = f"templates.{channel}"
        if channel not in TEMPLATE_CHANNELS:
            raise fail(at, f"no templates on this channel; expected {', '.join(TEMPLATE_CHANNELS)}")
        if not isinstance(spec, dict):
            raise fail(at, "expected a mapping")
        unknown = sorted(set(spec) - {"name", "language", "text", "parameters", "fallback"})
        if unknown:
            raise fail(f"{at}.{unknown[0]}", "unknown key")
        parameters = spec.get("parameters") or []
        if not isinstance(parameters, list) or any(p not in known for p in parameters):
            raise fail(f"{at}.parameters", f"expected a list of {', '.join(sorted(known))}")
        fallback = spec.get("fallback") or {}
        if not isinstance(fallback, dict) or not set(fallback) <= set(parameters):
            raise fail(f"{at}.fallback", "expected a mapping of its parameters to text")
        text = words(spec.get("text"), f"{at}.text")
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        if used != set(parameters):
            raise fail(f"{at}.text", f"must use exactly the parameters {parameters}")
        templates[str(channel)] = ReplyTemplate(
            words(spec.get("name"), f"{at}.name"),
            words(spec.get("language"), f"{at}.language"),
            text,
            tuple(parameters),
            {str(k): str(v) for k, v in fallback.items()},
        )
    return templates


def load_templates(
    known: frozenset[str], path: Path | str = DEFAULT_PATH
) -> dict[str, ReplyTemplate]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ReplyTemplateError(f"{path}: cannot read the templates ({error})") from None
    return parse_templates(data, known, str(path))
