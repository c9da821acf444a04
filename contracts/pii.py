"""Masking of the personal data customers type: card numbers, national ids, passwords.

Standard library only, so both environments import it: the connectors (bot side) mask a message
before Rasa sees it, the handoff service masks every line it stores. Each side reads
`bot/pii.yml` with its own YAML library and passes the parsed data to `RuleSet.from_config`.

Rule kinds (docs/pii.md):
- `card`: 13 to 19 digits, whole or in groups split by single spaces or dashes, passing Luhn.
- `pattern`: a regular expression; only its named group `secret` is masked when it has one; a
  `check` (`luhn`, `iban`, `de_tax_id`) the matched text must also pass.
- `phrase`: a keyword ("password", "pw") then a connector (":", "=", or a word such as "is") and
  the secret: the next run of non-space characters, unless it is one of `not_secrets`
  ("my password is wrong" is a complaint, not a password).

A mask is a text such as `[card ending {last4}]`; `{last4}` (card and pattern rules only) is the
last four letters or digits of the value, or `****` for values shorter than eight. A mask begins
and ends with a character that is neither a letter, a digit nor a space, so it never merges with
the text around it. Masking is idempotent: text that reads as a rendered mask is left alone and
the rules are applied until nothing changes.
"""

from __future__ import annotations

import bisect
import re
import string
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import Any

Span = tuple[int, int]
Finder = Callable[[str], Iterator[Span]]

KINDS = ("card", "pattern", "phrase")
FLAGS = {"ignorecase": re.IGNORECASE}
CARD_DIGITS = (13, 19)
HIDDEN_LAST4 = "****"
MAX_PASSES = 16  # a safety net; every pass that changes text turns plain text into masks

_COMMON_KEYS = ("name", "kind", "mask", "description")
_KIND_KEYS = {
    "card": (),
    "pattern": ("pattern", "flags", "check"),
    "phrase": ("keywords", "connectors", "not_secrets"),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*")
_DIGITS = re.compile(r"\d+")


class PiiConfigError(ValueError):
    """A problem in the masking rules; the message names the rule and the field."""


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(value: str) -> bool:
    """The Luhn checksum of the digits in `value` (card numbers)."""
    total, count = 0, 0
    for char in reversed(value):
        if char.isdecimal():
            digit = int(char)
            total += _LUHN_DOUBLED[digit] if count % 2 else digit
            count += 1
    return count > 0 and total % 10 == 0


def iban_valid(value: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 letters or digits; mod 97 is 1."""
    compact = "".join(c for c in value if c.isalnum()).upper()
    if not compact.isascii() or not 15 <= len(compact) <= 34:
        return False
    if not compact[:2].isalpha() or not compact[2:4].isdecimal():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def de_tax_id_valid(value: str) -> bool:
    """The German tax id (Steuerliche Identifikationsnummer): 11 digits, no leading zero, one
    digit of the first ten repeated two or three times (never three in a row), and an
    ISO 7064 MOD 11,10 check digit."""
    digits = "".join(c for c in value if c.isdecimal())
    if len(digits) != 11 or digits[0] == "0":
        return False
    body = digits[:10]
    repeated = [count for count in Counter(body).values() if count > 1]
    if len(repeated) != 1 or repeated[0] not in (2, 3):
        return False
    if any(body[i] == body[i + 1] == body[i + 2] for i in range(8)):
        return False
    product = 10
    for digit in body:
        total = (int(digit) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(digits[10])


CHECKS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_valid,
    "iban": iban_valid,
    "de_tax_id": de_tax_id_valid,
}


@dataclass(frozen=True)
class Rule:
    name: str
    mask: str
    find: Finder

    def render(self, value: str) -> str:
        alnum = [c for c in value if c.isalnum()]
        last4 = "".join(alnum[-4:]) if len(alnum) >= 8 else HIDDEN_LAST4
        return self.mask.format(last4=last4)


@dataclass(frozen=True)
class RuleSet:
    """The rules in the order they apply; `mask` is what callers use."""

    rules: tuple[Rule, ...]

    @classmethod
    def from_config(cls, data: Any, source: str = "PII rules") -> RuleSet:
        """Validated rules from the parsed YAML; `PiiConfigError` names the rule and field."""
        try:
            return cls(tuple(_rules(data)))
        except PiiConfigError as error:
            raise PiiConfigError(f"{source}: {error}") from None

    def mask(self, text: str) -> str:
        """`text` with every match of every rule replaced by the rule's mask."""
        for _ in range(MAX_PASSES):
            masked = self._pass(text)
            if masked == text:
                break
            text = masked
        return text

    def _pass(self, text: str) -> str:
        for rule in self.rules:
            found = list(rule.find(text))
            if not found:
                continue
            protected = _Protected(self._rendered.finditer(text))
            pieces: list[str] = []
            position = 0
            for start, end in found:
                if start < position or start == end or protected.hits(start, end):
                    continue
                pieces += (text[position:start], rule.render(text[start:end]))
                position = end
            if pieces:
                text = "".join(pieces) + text[position:]
        return text

    @cached_property
    def _rendered(self) -> re.Pattern[str]:
        """Matches any rendered mask of any rule (text that must never be masked again)."""
        return re.compile("|".join(_mask_regex(rule.mask) for rule in self.rules))


class _Protected:
    """Spans of rendered masks, for overlap checks in O(log n)."""

    def __init__(self, matches: Iterator[re.Match[str]]) -> None:
        spans = [m.span() for m in matches if m.end() > m.start()]
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def hits(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self.ends, start + 1)  # first mask ending after `start`
        return index < len(self.starts) and self.starts[index] < end


def load_rules(
    path: str | Path, parse: Callable[[str], Any], parse_errors: tuple[type[Exception], ...]
) -> RuleSet:
    """The rules in the file at `path`, read with the caller's YAML parser (`parse`, which
    raises one of `parse_errors` on bad syntax); `PiiConfigError` names the file, rule, field."""
    try:
        data = parse(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise PiiConfigError(f"{path}: cannot read: {error.strerror}") from None
    except parse_errors as error:
        raise PiiConfigError(f"{path}: invalid YAML: {error}") from None
    return RuleSet.from_config(data, str(path))


def find_cards(text: str) -> Iterator[Span]:
    """Luhn-valid 13-19 digit numbers, whole or made of groups split by one space or dash.

    In a longer run of groups the longest valid stretch of whole groups starting at each group
    is taken, left to right, so "call 0800 1234, card 4111 1111 1111 1111" masks only the card.
    """
    low, high = CARD_DIGITS
    for run in _DIGIT_RUN.finditer(text):
        groups = list(_DIGITS.finditer(text, run.start(), run.end()))
        if len(groups) == 1 and not low <= len(groups[0].group()) <= high:
            continue  # one long or short number: no card in it
        ends = list(accumulate(len(group.group()) for group in groups))  # digits up to a group
        sums = _LuhnSums("".join(group.group() for group in groups))
        index = 0
        while index < len(groups):
            first, best = ends[index] - len(groups[index].group()), None
            last = index
            while last < len(groups) and ends[last] - first <= high:
                if ends[last] - first >= low and sums.valid(first, ends[last]):
                    best = last
                last += 1
            if best is None:
                index += 1
                continue
            yield groups[index].start(), groups[best].end()
            index = best + 1


class _LuhnSums:
    """The Luhn check of any stretch of a digit string in O(1), from prefix sums of the plain
    and the doubled digit values at even and at odd positions."""

    def __init__(self, digits: str) -> None:
        self.plain: tuple[list[int], list[int]] = ([0], [0])
        self.doubled: tuple[list[int], list[int]] = ([0], [0])
        for position, char in enumerate(digits):
            digit = int(char)
            for parity in (0, 1):
                hit = position % 2 == parity
                self.plain[parity].append(self.plain[parity][-1] + (digit if hit else 0))
                doubled = _LUHN_DOUBLED[digit] if hit else 0
                self.doubled[parity].append(self.doubled[parity][-1] + doubled)

    def valid(self, start: int, end: int) -> bool:
        """Luhn over digits[start:end]: the last digit is plain, every second one before it is
        doubled."""
        plain, doubled = self.plain[(end - 1) % 2], self.doubled[end % 2]
        return (plain[end] - plain[start] + doubled[end] - doubled[start]) % 10 == 0


def _pattern_finder(pattern: re.Pattern[str], check: Callable[[str], bool] | None) -> Finder:
    has_secret = "secret" in pattern.groupindex

    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            start, end = match.span("secret") if has_secret else match.span()
            if start < 0 or (check is not None and not check(text[start:end])):
                continue
            yield start, end

    return find


def _phrase_finder(
    keywords: Sequence[str], connectors: Sequence[str], not_secrets: frozenset[str]
) -> Finder:
    words = "|".join(re.escape(word) for word in sorted(connectors, key=len, reverse=True))
    joined = r"\s*[:=]\s*" + (rf"|\s+(?:{words})\s+(?:[:=]\s*)?" if words else "")
    keys = "|".join(re.escape(word) for word in sorted(keywords, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{keys})(?:{joined})(?P<secret>\S+)", re.IGNORECASE)

    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            if match.group("secret").rstrip(".,;:!?").lower() not in not_secrets:
                yield match.span("secret")

    return find


def _mask_regex(mask: str) -> str:
    parts = []
    for literal, field, _, _ in string.Formatter().parse(mask):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(rf"(?:[0-9A-Za-z]{{4}}|{re.escape(HIDDEN_LAST4)})")
    return "".join(parts)


def _rules(data: Any) -> Iterator[Rule]:
    if not isinstance(data, Mapping):
        raise PiiConfigError("expected a mapping with 'version' and 'rules'")
    unknown = sorted(set(data) - {"version", "rules"})
    if unknown:
        raise PiiConfigError(f"field '{unknown[0]}': unknown (expected version, rules)")
    if data.get("version", 1) != 1:
        raise PiiConfigError("field 'version': expected 1")
    rules = data.get("rules")
    if not isinstance(rules, list):
        raise PiiConfigError("field 'rules': expected a list of rules")
    names: set[str] = set()
    for index, raw in enumerate(rules):
        rule = _rule(index, raw)
        if rule.name in names:
            raise PiiConfigError(f"rule '{rule.name}' field 'name': used by two rules")
        names.add(rule.name)
        yield rule


def _rule(index: int, raw: Any) -> Rule:
    if not isinstance(raw, Mapping):
        raise PiiConfigError(f"rule #{index + 1}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PiiConfigError(
            f"rule #{index + 1} field 'name': expected lower_case letters, digits and _"
        )

    def fail(field: str, problem: str) -> PiiConfigError:
        return PiiConfigError(f"rule '{name}' field '{field}': {problem}")

    kind = raw.get("kind")
    if kind not in KINDS:
        raise fail("kind", f"expected one of {', '.join(KINDS)}")
    unknown = sorted(set(raw) - {*_COMMON_KEYS, *_KIND_KEYS[kind]})
    if unknown:
        allowed = ", ".join((*_COMMON_KEYS, *_KIND_KEYS[kind]))
        raise fail(unknown[0], f"unknown for a {kind} rule (expected {allowed})")
    if not isinstance(raw.get("description", ""), str):
        raise fail("description", "expected text")
    mask = _mask(raw.get("mask"), allow_last4=kind != "phrase", fail=fail)
    if kind == "card":
        return Rule(name, mask, find_cards)
    if kind == "pattern":
        return Rule(name, mask, _pattern_rule(raw, fail))
    keywords = _words(raw.get("keywords"), "keywords", fail, required=True)
    connectors = _words(raw.get("connectors"), "connectors", fail)
    not_secrets = frozenset(w.lower() for w in _words(raw.get("not_secrets"), "not_secrets", fail))
    return Rule(name, mask, _phrase_finder(keywords, connectors, not_secrets))


def _mask(value: Any, allow_last4: bool, fail: Callable[[str, str], PiiConfigError]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail("mask", "expected a text such as '[card ending {last4}]'")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
    except ValueError as error:
        raise fail("mask", f"unbalanced braces ({error})") from None
    allowed = {"last4"} if allow_last4 else set()
    if fields - allowed:
        wrong = sorted(fields - allowed)[0] or "{}"
        hint = "only {last4}" if allow_last4 else "no placeholders for a phrase rule"
        raise fail("mask", f"unknown placeholder '{wrong}' ({hint})")
    rendered = value.format(last4=HIDDEN_LAST4)
    if any(c.isalnum() or c.isspace() for c in (rendered[0], rendered[-1])):
        raise fail("mask", "must begin and end with a symbol such as [ ] so it stands apart")
    return value


def _pattern_rule(raw: Mapping[str, Any], fail: Callable[[str, str], PiiConfigError]) -> Finder:
    source = raw.get("pattern")
    if not isinstance(source, str) or not source:
        raise fail("pattern", "expected a regular expression")
    flags = 0
    for flag in _words(raw.get("flags"), "flags", fail):
        if flag not in FLAGS:
            raise fail("flags", f"unknown flag '{flag}' (expected {', '.join(FLAGS)})")
        flags |= FLAGS[flag]
    try:
        pattern = re.compile(source, flags)
    except re.error as error:
        raise fail("pattern", f"not a valid regular expression ({error})") from None
    if pattern.search("") is not None:
        raise fail("pattern", "matches empty text")
    check_name = raw.get("check")
    if check_name is not None and check_name not in CHECKS:
        raise fail("check", f"expected one of {', '.join(CHECKS)}")
    return _pattern_finder(pattern, CHECKS[check_name] if check_name else None)


def _words(
    value: Any,
    field: str,
    fail: Callable[[str, str], PiiConfigError],
    required: bool = False,
) -> list[str]:
    if value is None and not required:
        return []
    if (
        not isinstance(value, list)
        or (required and not value)
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise fail(field, "expected a list of non-empty words")
    return [item.strip() for item in value]
