"""Masking on the service side (contracts.pii with the rules in bot/pii.yml, docs/pii.md).

The connectors mask customers' messages before Rasa sees them; this is the defence in depth for
every other way a line can arrive (the intake API, an event source fed by another channel):
each transcript line is masked where it is built, and `MaskingFilter` masks log messages.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from contracts.pii import RuleSet, load_rules
from handoff.settings import REPO_ROOT

DEFAULT_RULES_PATH = REPO_ROOT / "bot" / "pii.yml"

_active: dict[str, RuleSet] = {}


def configure(path: str | Path) -> RuleSet:
    """Load and use the rules in `path` from now on (the app factory calls this at start);
    `PiiConfigError` names the file, rule and field."""
    _active["rules"] = rules = load_rules(path, yaml.safe_load, (yaml.YAMLError,))
    return rules


def mask_text(text: str) -> str:
    rules = _active.get("rules") or configure(DEFAULT_RULES_PATH)
    return rules.mask(text)


class MaskingFilter(logging.Filter):
    """Masks the formatted message of every record it sees (install it on the handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
