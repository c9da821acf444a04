"""The public-data NLU evaluator's figures, on examples written for this test."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from scripts.evaluate_nlu import MAPPING, Example, figures, macro_f1


def example(text: str, intent: str | None, label: str = "x") -> Example:
    return Example(text=text, source_label=label, intent=intent)


def test_halves_follow_the_parity_of_the_texts_sha1() -> None:
    for text in ("where is my order", "hello", "turn the lights off", "what time is it"):
        even = int(hashlib.sha1(text.encode()).hexdigest(), 16) % 2 == 0
        assert example(text, None).half == ("dev" if even else "report")


def test_fallback_counts_as_out_of_scope_and_faq_answers_as_harm() -> None:
    examples = [
        example("weather in oslo", "out_of_scope"),
        example("tell me a riddle", "out_of_scope"),
        example("best pizza nearby", "out_of_scope"),
        example("who won the match", "out_of_scope"),
        example("refund please", "billing_problem"),
        example("set an alarm", None),  # not mapped: only the human-request figure sees it
    ]
    predicted = [
        "nlu_fallback", "out_of_scope", "faq/opening_hours", "billing_problem",
        "billing_problem", "request_human",
    ]  # fmt: skip

    result = figures(examples, predicted, seed=1)

    assert result["oos_handled"]["value"] == 0.5
    assert result["oos_handled"]["n"] == 4
    assert result["oos_triaged_or_faq"]["value"] == 0.5
    assert result["accuracy"]["value"] == pytest.approx(3 / 5)
    assert result["topic_accuracy"] == {**result["topic_accuracy"], "value": 1.0, "n": 1}
    assert result["human_false_rate"] == {**result["human_false_rate"], "value": 1 / 6, "n": 6}
    assert "bot_challenge" not in result  # no such examples: no figure rather than a made-up 0
    for figure in result.values():
        assert figure["low"] <= figure["value"] <= figure["high"]


def test_bot_challenge_taken_as_a_human_request_is_counted() -> None:
    examples = [example(f"are you real {i}", "bot_challenge") for i in range(4)]
    predicted = ["bot_challenge", "request_human", "request_human", "greet"]

    result = figures(examples, predicted, seed=2)

    assert result["bot_challenge"]["value"] == 0.25
    assert result["bot_challenge_as_human"]["value"] == 0.5


def test_macro_f1_weighs_every_true_label_equally() -> None:
    truth = ["a", "a", "a", "b"]
    assert macro_f1(truth, ["a", "a", "a", "b"]) == 1.0
    assert macro_f1(truth, ["a", "a", "a", "a"]) == pytest.approx((2 * 3 / (2 * 3 + 1) + 0) / 2)


def test_mapping_targets_only_intents_the_bot_has() -> None:
    mapping = yaml.safe_load(MAPPING.read_text())
    intents = {intent for per_dataset in mapping.values() for intent in per_dataset}

    assert intents <= {
        "billing_problem", "account_login", "order_delivery", "out_of_scope", "bot_challenge",
        "greet", "goodbye", "affirm", "deny", "praise",
    }  # fmt: skip
    for per_dataset in mapping.values():
        labels = [label for labels in per_dataset.values() for label in labels]
        assert len(labels) == len(set(labels)), "a public label mapped to two intents"
