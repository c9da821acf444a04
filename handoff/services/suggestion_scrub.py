"""Personal details out of mined replies before they are indexed (docs/suggestions.md).

Two passes. Rules of the PII engine (`contracts.pii`) catch references shaped like ours,
e-mail addresses, phone numbers, other long numbers and a name after a greeting; then the
conversation's own details (the customer's name, the order or account reference
triage collected, the agent's name) become the canned replies' placeholders, so the reply is
filled again for the next customer. Card numbers, national ids and passwords were
masked before the lines were stored (`handoff/pii.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from contracts.pii import RuleSet

RULES = RuleSet.from_config(
    {
        "version": 1,
        "rules": [
            {
                "name": "email",
                "kind": "pattern",
                "pattern": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
                "mask": "[email address]",
            },
            {
                "name": "reference",
                "kind": "pattern",
                "pattern": r"(?<![0-9A-Za-z])[A-Z]{2,4}-?\d{5,}(?![0-9A-Za-z])",
                "flags": ["ignorecase"],
                "mask": "{{order_reference}}",
            },
            {
                "name": "phone",
                "kind": "pattern",
                "pattern": r"(?<![\w+])\+?\d[\d ()./-]{6,}\d(?!\w)",
                "mask": "[phone number]",
            },
            {
                "name": "number",
                "kind": "pattern",
                "pattern": r"(?<!\w)\d{5,}(?!\w)",
                "mask": "[number]",
            },
            {
                "name": "greeted_name",
                "kind": "pattern",
                "pattern": r"\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Dd]ear|[Tt]hanks|[Hh]allo),? "
                r"(?P<secret>[A-Z][a-z]+)\b",
                "mask": "{{customer_first_name}}",
            },
        ],
    },
    "suggestion scrub rules",
)


def _replace_words(text: str, words: Iterable[str], placeholder: str) -> str:
    for word in sorted({w for w in words if len(w) >= 2}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", placeholder, text, flags=re.IGNORECASE)
    return text


def scrub(
    text: str,
    *,
    customer_name: str | None = None,
    reference: str | None = None,
    agent_names: Iterable[str] = (),
) -> str:
    """`text` with the conversation's details as placeholders and other personal details masked;
    literal braces become parentheses so only our placeholders are ever filled."""
    text = RULES.mask(text.replace("{", "(").replace("}", ")"))
    if reference:
        text = _replace_words(text, [reference], "{order_reference}")
    if customer_name:
        text = _replace_words(text, [customer_name], "{customer_name}")
        text = _replace_words(text, customer_name.split(), "{customer_first_name}")
    for name in agent_names:
        text = _replace_words(text, [name, *name.split()], "{agent_name}")
    return text
