"""How long conversations live, per triage topic, from handoff/threads.yml (pure module).

`reopen_window(topic)`: a customer line this soon after a resolution reopens the conversation;
`silence_limit(topic, mode)`: an open conversation of that mode whose customer has not answered
an agent for this long is resolved automatically (None: never). A topic without an entry uses
`default`. Errors name the file and the field. Run `python -m handoff.thread_policy [path]`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from contracts.config_check import check_file

DEFAULT_PATH = Path(__file__).resolve().parent / "threads.yml"
MODES = ("sync", "async")
MAX_HOURS = 24 * 365


class ThreadPolicyError(ValueError):
    """A problem in the thread policy file; the message names the file and the field."""


@dataclass(frozen=True)
class Lifetime:
    reopen_hours: int
    silence_days: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadPolicy:
    default: Lifetime = Lifetime(72, {"async": 7})
    topics: Mapping[str, Lifetime] = field(default_factory=dict)

    def lifetime(self, topic: str | None) -> Lifetime:
        return self.topics.get(topic or "", self.default)

    def reopen_window(self, topic: str | None) -> timedelta:
        return timedelta(hours=self.lifetime(topic).reopen_hours)

    def silence_limit(self, topic: str | None, mode: str | None) -> timedelta | None:
        days = self.lifetime(topic).silence_days.get(mode or "")
        return None if days is None else timedelta(days=days)

    def shortest_silence(self) -> timedelta | None:
        """The smallest limit of any topic and mode: nothing silent for less is a candidate."""
        days = [
            d for life in (self.default, *self.topics.values()) for d in life.silence_days.values()
        ]
        return timedelta(days=min(days)) if days else None


def parse_policy(data: Any, source: str = "handoff/threads.yml") -> ThreadPolicy:
    def fail(where: str, problem: str) -> ThreadPolicyError:
        return ThreadPolicyError(f"{source}: field '{where}': {problem}")

    def mapping(value: Any, where: str, keys: tuple[str, ...] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fail(where, f"expected a mapping, got {value!r}")
        unknown = sorted(set(value) - set(keys)) if keys is not None else []
        if unknown:
            raise fail(
                f"{where}.{unknown[0]}", f"unknown key; expected one of {', '.join(keys or ())}"
            )
        return value

    def whole(value: Any, where: str, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise fail(where, f"expected a whole number 1..{high}, got {value!r}")
        return value

    def lifetime(value: Any, where: str) -> Lifetime:
        spec = mapping(value, where, ("reopen_hours", "silence_days"))
        if "reopen_hours" not in spec:
            raise fail(f"{where}.reopen_hours", "missing")
        silence = mapping(spec.get("silence_days", {}), f"{where}.silence_days", MODES)
        return Lifetime(
            whole(spec["reopen_hours"], f"{where}.reopen_hours", MAX_HOURS),
            {
                mode: whole(days, f"{where}.silence_days.{mode}", MAX_HOURS // 24)
                for mode, days in silence.items()
            },
        )

    top = mapping(data, "(top)", ("version", "default", "topics"))
    if top.get("version") != 1:
        raise fail("version", f"expected 1, got {top.get('version')!r}")
    if "default" not in top:
        raise fail("default", "missing")
    topics = mapping(top.get("topics") or {}, "topics", None)
    return ThreadPolicy(
        lifetime(top["default"], "default"),
        {str(name): lifetime(spec, f"topics.{name}") for name, spec in topics.items()},
    )


def load_policy(path: Path | str = DEFAULT_PATH) -> ThreadPolicy:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ThreadPolicyError(f"{path}: cannot read the policy ({error})") from None
    return parse_policy(data, str(path))


def main(argv: list[str]) -> int:
    return check_file(
        argv,
        DEFAULT_PATH,
        load_policy,
        ThreadPolicyError,
        lambda policy: f"{len(policy.topics)} topics besides the default",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
