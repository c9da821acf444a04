"""Personal data masked in customers' messages before Rasa sees them (docs/pii.md).

Every input channel wraps Rasa's `on_new_message` with `masked_messages`, so the tracker store,
the event broker, the NLU, the actions and the handoff transcript only ever get the masked text.
The rules are `bot/pii.yml` (or `PII_RULES_PATH`), checked when the channel is mounted: a broken
file stops Rasa at start-up with the rule and field named. Check a file with
`python -m connectors.common.pii [path]`.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa.core.channels.channel import UserMessage

from connectors.common.turns import OnNewMessage
from contracts import pii
from contracts.config_check import check_file
from contracts.pii import PiiConfigError, RuleSet

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES_PATH = REPO_ROOT / "bot" / "pii.yml"
RULES_PATH_ENV = "PII_RULES_PATH"
# Customer-written texts that channels also copy into the message metadata: the shown text, the
# captions of attachments (connectors.common.attachments) and a WhatsApp Flow's answers.
METADATA_TEXTS = ("display_text",)


def rules_path() -> Path:
    return Path(os.environ.get(RULES_PATH_ENV) or DEFAULT_RULES_PATH)


@lru_cache(maxsize=4)
def load_rules(path: Path) -> RuleSet:
    """The rule set in `path`; `PiiConfigError` names the file, rule and field."""
    return pii.load_rules(path, yaml.safe_load, (yaml.YAMLError,))


def mask_message(message: UserMessage, rules: RuleSet) -> UserMessage:
    """The message with its text and the metadata texts above masked (in place)."""
    if message.text:
        message.text = rules.mask(message.text)
    metadata: Any = message.metadata
    if not isinstance(metadata, dict):
        return message
    for key in METADATA_TEXTS:
        if isinstance(metadata.get(key), str):
            metadata[key] = rules.mask(metadata[key])
    for item in metadata.get("attachments") or []:
        if isinstance(item, dict) and isinstance(item.get("caption"), str):
            item["caption"] = rules.mask(item["caption"])
    form = metadata.get("form_response")
    if isinstance(form, dict) and isinstance(form.get("answers"), dict):
        form["answers"] = _masked(form["answers"], rules)
    return message


def _masked(value: Any, rules: RuleSet) -> Any:
    """Every string in a JSON value masked."""
    if isinstance(value, str):
        return rules.mask(value)
    if isinstance(value, dict):
        return {key: _masked(item, rules) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, rules) for item in value]
    return value


def masked_messages(on_new_message: OnNewMessage, rules: RuleSet | None = None) -> OnNewMessage:
    """`on_new_message` that only ever receives masked messages."""
    rule_set = rules or load_rules(rules_path())

    async def handle(message: UserMessage) -> Any:
        return await on_new_message(mask_message(message, rule_set))

    return handle


def main(argv: list[str]) -> int:
    return check_file(
        argv, rules_path(), load_rules, PiiConfigError, lambda rules: f"{len(rules.rules)} rules"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
