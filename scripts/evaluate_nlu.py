"""NLU measured on public data nobody here wrote: Banking77, CLINC150 (with its out-of-scope
queries) and HWU64, their labels mapped to ours by scripts/nlu_eval_mapping.yml.

    PYTHONPATH=. .venv-bot/bin/python scripts/evaluate_nlu.py /work/eval-data
    PYTHONPATH=. .venv-bot/bin/python scripts/evaluate_nlu.py DIR --model new=models/care.tar.gz

Without --model it trains both pipelines of scripts/nlu_models.py (`sparse`: main's, `encoder`:
with the sentence encoder) on this repository's data into models/eval/ and compares them.
Nothing is trained on the public data.

Split rule (DATA_DIR/README.md): an example is in the "dev" half when the SHA-1 of its text is
even, else in the "report" half. The report half's figures are the headline; individual
examples are only ever listed for the dev half (--errors).

Figures per model, dataset and half, each with a bootstrap 95% interval and its n:
- `accuracy`, `macro_f1`: on the mapped examples (nlu_fallback counts as out_of_scope);
- `topic_accuracy`: the same on the examples of a triage topic (billing, login, delivery);
- `oos_handled`: out-of-scope examples predicted out_of_scope or nlu_fallback (so neither
  triaged nor answered from the FAQ); `oos_triaged_or_faq`: the harmful share;
- `bot_challenge`: bot-challenge questions predicted bot_challenge, `bot_challenge_as_human`:
  predicted request_human;
- `human_false_rate`: request_human predicted on any example of the dataset, mapped or not (none
  of these datasets asks for a person, so every such prediction is wrong; human-request
  precision is 1 minus the share of these among all request_human predictions, and recall
  cannot be measured here).

Results are printed and written to results/nlu_eval.json.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from scripts.nlu_models import PIPELINES, ROOT, train

MAPPING = Path(__file__).with_name("nlu_eval_mapping.yml")
RESULTS = ROOT / "results" / "nlu_eval.json"
HALVES = ("report", "dev")
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
HUMAN = "request_human"
BOT_CHALLENGE = "bot_challenge"
TRIAGE_TOPICS = frozenset(
    {"billing_problem", "technical_problem", "account_login", "order_delivery", "complaint"}
)
BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class Example:
    text: str
    source_label: str  # the dataset's own label
    intent: str | None  # ours, or None when the label is not mapped

    @property
    def half(self) -> str:
        return "dev" if int(hashlib.sha1(self.text.encode()).hexdigest(), 16) % 2 == 0 else "report"


def load_banking77(data_dir: Path, in_scope: set[str]) -> list[tuple[str, str]]:
    with (data_dir / "banking_data" / "test.csv").open(newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def load_clinc150(data_dir: Path, in_scope: set[str]) -> list[tuple[str, str]]:
    """The test split and its out-of-scope queries; for the few labels we map to an in-scope
    intent (bot_challenge, greet, ...: 30 test examples each) also their train and val examples,
    so those figures rest on 150 examples a label (nothing here is trained on any split)."""
    data = json.loads((data_dir / "clinc" / "data_full.json").read_text())
    extra = [(text, label) for text, label in data["train"] + data["val"] if label in in_scope]
    return [(text, label) for text, label in data["test"] + data["oos_test"]] + extra


def load_hwu64(data_dir: Path, in_scope: set[str]) -> list[tuple[str, str]]:
    pairs = []
    for path in sorted((data_dir / "hwu64" / "kfold1_test").glob("*/*.json")):
        for item in json.loads(path.read_text())["test_data_annotation"]:
            pairs.append((item["text"], item["intent"]))
    return pairs


# Each loader gets the labels mapped to an intent other than out_of_scope.
LOADERS: dict[str, Callable[[Path, set[str]], list[tuple[str, str]]]] = {
    "banking77": load_banking77,
    "clinc150": load_clinc150,
    "hwu64": load_hwu64,
}


def load_datasets(
    data_dir: Path, mapping: dict[str, dict[str, list[str]]]
) -> dict[str, list[Example]]:
    """Every test example of each dataset, with our intent where the mapping gives one."""
    datasets = {}
    for name, loader in LOADERS.items():
        ours = {label: intent for intent, labels in mapping[name].items() for label in labels}
        pairs = loader(
            data_dir, {label for label, intent in ours.items() if intent != OUT_OF_SCOPE}
        )
        unknown = set(ours) - {label for _, label in pairs}
        if unknown:
            raise SystemExit(f"{MAPPING.name}: {name} has no label(s) {sorted(unknown)}")
        datasets[name] = [Example(text, label, ours.get(label)) for text, label in pairs]
    return datasets


def sample(examples: list[Example], per_intent: int) -> list[Example]:
    """At most `per_intent` examples of each of our intents (unmapped ones as one group),
    drawn with a fixed seed, in their original order."""
    groups: dict[str | None, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(example.intent, []).append(index)
    rng = random.Random(0)
    keep = {
        i for indices in groups.values() for i in rng.sample(indices, min(per_intent, len(indices)))
    }
    return [example for index, example in enumerate(examples) if index in keep]


def normalise(predicted: str) -> str:
    return OUT_OF_SCOPE if predicted == FALLBACK else predicted


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Macro F1 over the true labels present (a prediction outside them is a miss)."""
    scores = []
    for label in set(truth):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags)


def bootstrap(
    metric: Callable[[list[int]], float], n: int, rng: random.Random
) -> tuple[float, float, float]:
    """The metric on all n items, and the 2.5th and 97.5th percentiles over resamples."""
    value = metric(list(range(n)))
    samples = sorted(metric(rng.choices(range(n), k=n)) for _ in range(BOOTSTRAP_SAMPLES))
    return (
        value,
        samples[int(0.025 * BOOTSTRAP_SAMPLES)],
        samples[int(0.975 * BOOTSTRAP_SAMPLES) - 1],
    )


def figures(
    examples: list[Example], predicted: list[str], seed: int
) -> dict[str, dict[str, float]]:
    """Every figure of one model on one half of one dataset (see the module docstring)."""
    rng = random.Random(seed)
    out: dict[str, dict[str, float]] = {}

    def add(name: str, indices: list[int], metric: Callable[[list[int]], float]) -> None:
        if not indices:
            return
        value, low, high = bootstrap(
            lambda picks: metric([indices[i] for i in picks]), len(indices), rng
        )
        out[name] = {"value": value, "low": low, "high": high, "n": len(indices)}

    mapped = [i for i, example in enumerate(examples) if example.intent]
    truth = [example.intent or "" for example in examples]
    guess = [normalise(label) for label in predicted]
    add("accuracy", mapped, lambda ix: rate([guess[i] == truth[i] for i in ix]))
    add("macro_f1", mapped, lambda ix: macro_f1([truth[i] for i in ix], [guess[i] for i in ix]))
    topics = [i for i in mapped if truth[i] in TRIAGE_TOPICS]
    add("topic_accuracy", topics, lambda ix: rate([guess[i] == truth[i] for i in ix]))
    oos = [i for i in mapped if truth[i] == OUT_OF_SCOPE]
    add("oos_handled", oos, lambda ix: rate([guess[i] == OUT_OF_SCOPE for i in ix]))
    add(
        "oos_triaged_or_faq",
        oos,
        lambda ix: rate([guess[i] in TRIAGE_TOPICS or guess[i].startswith("faq") for i in ix]),
    )
    challenges = [i for i in mapped if truth[i] == BOT_CHALLENGE]
    add("bot_challenge", challenges, lambda ix: rate([guess[i] == BOT_CHALLENGE for i in ix]))
    add("bot_challenge_as_human", challenges, lambda ix: rate([guess[i] == HUMAN for i in ix]))
    add(
        "human_false_rate",
        list(range(len(examples))),
        lambda ix: rate([guess[i] == HUMAN for i in ix]),
    )
    return out


def predict(model: Path, texts: list[str]) -> list[str]:
    """Our intent for each text (`faq/<name>` for FAQ answers), the whole NLU graph in batches."""
    from rasa.core.agent import Agent
    from rasa.core.channels import UserMessage
    from rasa.engine.runner.interface import GraphRunner
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    agent = Agent.load(str(model))
    processor = agent.processor
    if processor is None:
        raise SystemExit(f"{model}: no model loaded")
    runner: GraphRunner = processor.graph_runner
    target = processor.model_metadata.nlu_target
    tracker = DialogueStateTracker("evaluation", [])
    predicted: list[str] = []
    for start in range(0, len(texts), 64):
        messages = [UserMessage(text) for text in texts[start : start + 64]]
        parsed = runner.run(
            inputs={"__message__": messages, "__tracker__": tracker}, targets=[target]
        )[target]
        for message in parsed:
            data = message.as_dict(only_output_properties=True)
            intent = (data.get("intent") or {}).get(INTENT_NAME_KEY) or FALLBACK
            selector = (data.get("response_selector") or {}).get(intent) or {}
            retrieval = (selector.get("response") or {}).get("intent_response_key")
            predicted.append(retrieval if intent == "faq" and retrieval else intent)
        print(f"  {model.name}: {len(predicted)}/{len(texts)}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return predicted


def print_table(
    results: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]], halves: Sequence[str]
) -> None:
    for half in halves:
        print(f"\n== {half} half" + (" (headline)" if half == "report" else ""))
        for dataset in LOADERS:
            print(f"-- {dataset}")
            names = list(next(iter(results.values()))[dataset][half])
            for name in names:
                cells = []
                for model, per_dataset in results.items():
                    f = per_dataset[dataset][half].get(name)
                    if f:
                        cells.append(f"{model} {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]")
                n = next(iter(results.values()))[dataset][half][name]["n"]
                print(f"  {name:<24} n={n:<5} " + "   ".join(cells))


def print_errors(examples: list[Example], predicted: list[str], limit: int = 40) -> None:
    """Misclassified dev-half examples (never the report half)."""
    shown = 0
    for example, label in zip(examples, predicted, strict=True):
        if example.half == "dev" and example.intent and normalise(label) != example.intent:
            print(f"  {example.source_label:>22} ({example.intent}) -> {label:<18} {example.text}")
            shown += 1
            if shown == limit:
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument(
        "--model", action="append", default=[], metavar="NAME=PATH",
        help="a trained model to evaluate (repeatable); default: train both pipelines",
    )  # fmt: skip
    parser.add_argument(
        "--max-epochs", type=int, help="cap the epochs when training (quicker, rougher figures)"
    )
    parser.add_argument(
        "--per-intent",
        type=int,
        help="evaluate at most N examples per intent (and N unmapped) of each dataset: quicker",
    )
    parser.add_argument("--errors", action="store_true", help="list dev-half misclassifications")
    parser.add_argument(
        "--half",
        choices=HALVES,
        help="parse and report only this half (iterate on `dev` without seeing `report`)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    mapping = yaml.safe_load(MAPPING.read_text())
    datasets = load_datasets(args.data_dir, mapping)
    if args.per_intent:
        datasets = {name: sample(examples, args.per_intent) for name, examples in datasets.items()}
    halves = (args.half,) if args.half else HALVES
    datasets = {
        name: [example for example in examples if example.half in halves]
        for name, examples in datasets.items()
    }
    models: dict[str, Path] = {}
    training_seconds: dict[str, float] = {}
    for item in args.model:
        name, _, path = item.rpartition("=")
        models[name or Path(path).name.split(".")[0]] = Path(path)
    if not models:
        for pipeline in PIPELINES:
            print(f"training the {pipeline} pipeline ...", file=sys.stderr)
            models[pipeline], training_seconds[pipeline] = train(
                pipeline, ROOT / "models" / "eval", args.max_epochs
            )

    results: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]] = {}
    everything = [example for examples in datasets.values() for example in examples]
    for name, model in models.items():
        results[name] = {}
        all_predicted = iter(predict(model, [example.text for example in everything]))
        for dataset, examples in datasets.items():
            predicted = [next(all_predicted) for _ in examples]
            results[name][dataset] = {
                half: figures(
                    [e for e in examples if e.half == half],
                    [p for e, p in zip(examples, predicted, strict=True) if e.half == half],
                    seed=len(examples),
                )
                for half in halves
            }
            if args.errors:
                print(f"\n{name} on {dataset}, dev half, misclassified:")
                print_errors(examples, predicted)
    print_table(results, halves)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "models": {name: str(path) for name, path in models.items()},
                "training_seconds": training_seconds,
                "max_epochs": args.max_epochs,
                "per_intent": args.per_intent,
                "halves": list(halves),
                "bootstrap_samples": BOOTSTRAP_SAMPLES,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
