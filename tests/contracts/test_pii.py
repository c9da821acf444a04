"""The masking engine with the shipped rules (bot/pii.yml): examples, properties, config errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.pii import (
    PiiConfigError,
    RuleSet,
    de_tax_id_valid,
    iban_valid,
    load_rules,
    luhn_valid,
)

RULES_FILE = Path(__file__).parents[2] / "bot" / "pii.yml"
RULES = RuleSet.from_config(yaml.safe_load(RULES_FILE.read_text()), "bot/pii.yml")
KEYWORDS = ("password", "passwort", "kennwort", "passcode", "pwd", "pw", "pin")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("my card is 4242 4242 4242 4242 thanks", "my card is [card ending 4242] thanks"),
        ("4111-1111-1111-1111", "[card ending 1111]"),
        ("amex 378282246310005.", "amex [card ending 0005]."),
        ("4242424242424242 and 5555555555554444", "[card ending 4242] and [card ending 4444]"),
        ("call 0800 1234, card 4111 1111 1111 1111", "call 0800 1234, card [card ending 1111]"),
        ("my SSN is 123-45-6789", "my SSN is [national id]"),
        ("NI number AB 12 34 56 C please", "NI number [national id] please"),
        ("ni: ab123456c", "ni: [national id]"),
        ("Steuer-ID 86095742719", "Steuer-ID [national id]"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [bank account ending 3000]"),
        ("GB82WEST12345698765432", "[bank account ending 5432]"),
        ("my password is hunter2.", "my password is [password]"),
        ("PW: s3cr3t! thanks", "PW: [password] thanks"),
        ("password=abc123", "password=[password]"),
        ("Mein Passwort ist Geheim123", "Mein Passwort ist [password]"),
        ("my pin is 1234", "my pin is [password]"),
        ("password: 4242 4242 4242 4242", "password: [card ending 4242]"),
    ],
)
def test_personal_data_is_masked(typed: str, stored: str) -> None:
    assert RULES.mask(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "order LH20481937 arrived broken",
        "call me on +44 20 7946 0958",
        "4242 4242 4242 4241",  # fails Luhn
        "the 2026-11-23 delivery, ref ACC-482913",
        "my password is not working",
        "my password is wrong again!",
        "I need a password reset",
        "passwords are hard",
        "QQ 12 34 56 C",  # a specimen prefix never issued
        "000-12-3456",  # never a valid SSN
        "DE88 3704 0044 0532 0130 00",  # IBAN check digits wrong
        "[card ending 4242] is the one",
    ],
)
def test_ordinary_text_is_left_alone(typed: str) -> None:
    assert RULES.mask(typed) == typed


def test_the_checks_accept_known_good_values() -> None:
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    assert iban_valid("DE89370400440532013000") and iban_valid("gb82 west 1234 5698 7654 32")
    assert de_tax_id_valid("86095742719") and not de_tax_id_valid("86095742718")


def luhn_complete(payload: list[int]) -> str:
    """`payload` with the Luhn check digit appended."""
    for check in range(10):
        number = "".join(map(str, payload)) + str(check)
        if luhn_valid(number):
            return number
    raise AssertionError("unreachable")


cards = st.lists(st.integers(0, 9), min_size=12, max_size=18).map(luhn_complete)
separated_cards = st.tuples(cards, st.sampled_from(["", " ", "-"]), st.integers(3, 5)).map(
    lambda t: t[1].join(t[0][i : i + t[2]] for i in range(0, len(t[0]), t[2]))
)
pieces = st.one_of(
    st.text(alphabet="abcxyz ,.:=!-[]•", max_size=8),
    st.from_regex(r"\d{1,20}", fullmatch=True),
    st.sampled_from([*KEYWORDS, " is ", ": ", " ", "-", "[card ending 4242]", "[password]"]),
    cards,
    separated_cards,
)
texts = st.lists(pieces, max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_masking_is_idempotent(text: str) -> None:
    once = RULES.mask(text)
    assert RULES.mask(once) == once


@settings(max_examples=150, deadline=None)
@given(texts)
def test_no_luhn_valid_13_to_19_digit_run_survives(text: str) -> None:
    for run in re.findall(r"\d+", RULES.mask(text)):
        assert not (13 <= len(run) <= 19 and luhn_valid(run)), run


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30), separated_cards, st.text(max_size=30))
def test_a_card_typed_anywhere_is_never_kept(before: str, card: str, after: str) -> None:
    masked = RULES.mask(f"{before} {card} {after}")
    assert card not in masked
    # usually "[card ending <its last4>]"; digits typed right before it can make a longer
    # Luhn-valid stretch that is masked instead ("8 000 000 012 999 9")
    assert "[card ending " in masked


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=60))
def test_text_without_digits_or_password_words_is_unchanged(text: str) -> None:
    if not any(word in text.lower() for word in KEYWORDS):
        assert RULES.mask(text) == text


def config(**rule: Any) -> dict[str, Any]:
    return {"version": 1, "rules": [{"name": "r", "kind": "pattern", "mask": "[x]", **rule}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a mapping"),
        ({"rules": "all"}, "field 'rules': expected a list"),
        ({"rules": [], "extra": 1}, "field 'extra': unknown"),
        ({"version": 2, "rules": []}, "field 'version'"),
        ({"rules": [{"name": "Bad Name", "kind": "card", "mask": "[x]"}]}, "field 'name'"),
        (config(kind="regex"), "rule 'r' field 'kind': expected one of card, pattern, phrase"),
        (config(pattern="a(b"), "rule 'r' field 'pattern': not a valid regular expression"),
        (config(pattern="a*"), "rule 'r' field 'pattern': matches empty text"),
        (config(pattern="a", check="crc"), "rule 'r' field 'check': expected one of luhn"),
        (config(pattern="a", flags=["multiline"]), "rule 'r' field 'flags': unknown flag"),
        (config(pattern="a", keywords=["x"]), "rule 'r' field 'keywords': unknown for a pattern"),
        (config(pattern="a", mask="x {last4}]"), "rule 'r' field 'mask': must begin and end"),
        (config(pattern="a", mask="[{first4}]"), "rule 'r' field 'mask': unknown placeholder"),
        (config(pattern="a", mask="[{last4]"), "rule 'r' field 'mask': unbalanced braces"),
        (config(pattern="a", mask=""), "rule 'r' field 'mask': expected a text"),
        (config(kind="phrase", keywords=[]), "rule 'r' field 'keywords': expected a list"),
        (
            config(kind="phrase", keywords=["pw"], mask="[pw {last4}]"),
            "rule 'r' field 'mask': unknown placeholder 'last4' (no placeholders for a phrase",
        ),
        (
            {"rules": [{"name": "a", "kind": "card", "mask": "[c]"}] * 2},
            "rule 'a' field 'name': used by two rules",
        ),
    ],
)
def test_a_bad_rule_file_names_the_rule_and_field(data: Any, message: str) -> None:
    with pytest.raises(PiiConfigError, match=re.escape(message)):
        RuleSet.from_config(data, "pii.yml")


def test_an_error_names_the_file() -> None:
    with pytest.raises(PiiConfigError, match=r"^pii\.yml: "):
        RuleSet.from_config([], "pii.yml")


def test_an_unreadable_or_broken_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "pii.yml"
    broken.write_text("rules: [\n")
    with pytest.raises(PiiConfigError, match=r"pii\.yml: invalid YAML"):
        load_rules(broken, yaml.safe_load, (yaml.YAMLError,))
    with pytest.raises(PiiConfigError, match=r"missing\.yml: cannot read"):
        load_rules(tmp_path / "missing.yml", yaml.safe_load, (yaml.YAMLError,))
    assert load_rules(RULES_FILE, yaml.safe_load, (yaml.YAMLError,)).rules
