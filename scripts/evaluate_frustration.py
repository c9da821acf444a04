"""Measure the frustration scorer: on the team's labelled set, or honestly on GoEmotions.

    PYTHONPATH=. .venv-bot/bin/python scripts/evaluate_frustration.py [--errors]
    PYTHONPATH=. .venv-bot/bin/python scripts/evaluate_frustration.py /path/to/goemotions
    PYTHONPATH=. .venv-bot/bin/python scripts/evaluate_frustration.py --complaints FILE.csv

Without DATA: precision and recall of "frustrated" (score >= threshold) and Spearman of score vs
intensity on `tests/fixtures/frustration/labelled.csv` (written by this team: a regression test,
not an honest measure).

With DATA (a GoEmotions directory with `labels.txt` and `test.tsv`/`dev.tsv`, or tsv files): each
Reddit comment gets a grade from its human labels, and comments with labels from more than one
group, or only other emotions (sadness, fear, curiosity, ...), are dropped:

    2 clearly frustrated  every label in anger, annoyance, disgust, disappointment, disapproval,
                          at least one of anger, annoyance, disgust
    1 mildly annoyed      every label in disappointment, disapproval
    0 calm                every label in neutral, joy, gratitude, approval

It prints, with n and bootstrap 95% intervals, per half of the split rule (sha1 of the text even:
"dev", may be inspected; odd: "report", the headline, never looked at item by item): Spearman of
score vs grade, AUC of grade 2 vs grade 0, and the escalation rate (score >= threshold) among
grade 2, among comments labelled anger only, among grade 0 and among its positive part (joy,
gratitude, approval: "neutral" comments are often hostile without an emotion label). Baselines
side by side: VADER alone (score = (1 - compound) / 2, "escalates" at compound <= -0.5) and the
previous rule scorer (`bot/frustration.py` at --old-ref, loaded from git, escalating at its
own threshold 0.7; skipped when git cannot show it).

With --complaints (the customer tweets to brands of Preotiuc-Pietro et al. 2019,
`complaints-data.csv`: id, text, 1 when annotators judged it a complaint, domain): customer
language, but a complaint is not the same as frustration (a calm "my parcel has not arrived" is
one). Per half (the same sha1 rule): AUC of complaint vs not, and the share escalated among
complaints and among the rest, for our scorer and VADER.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import subprocess
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import rankdata, spearmanr

from bot.frustration import default_model, vader_features

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "tests/fixtures/frustration/labelled.csv"
DEFAULT_THRESHOLD = 0.5  # "frustrated" on the labelled set
OLD_SCORER_REF = "db72ea2"  # main before frustration v2: the additive word-list scorer
OLD_SCORER_THRESHOLD = 0.7  # its frustration_threshold in bot/config.yml at that commit
VADER_STRONG_NEGATIVE = -0.5
BOOTSTRAP = 1000
FRUSTRATED = frozenset({"anger", "annoyance", "disgust"})
MILD = frozenset({"disappointment", "disapproval"})
CALM = frozenset({"neutral", "joy", "gratitude", "approval"})


@dataclass(frozen=True)
class Evaluation:
    rows: int
    precision: float
    recall: float
    spearman: float
    errors: list[tuple[str, int, float, tuple[str, ...]]]


def evaluate(threshold: float = DEFAULT_THRESHOLD, dataset: Path = DATASET) -> Evaluation:
    """The scorer on the team's own labelled messages."""
    with dataset.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = default_model().score_texts([row["text"] for row in rows])
    labels = [int(row["frustrated"]) for row in rows]
    predicted = [r.score >= threshold for r in results]
    true_pos = sum(p and y for p, y in zip(predicted, labels, strict=True))
    errors = [
        (row["text"], label, result.score, result.signals)
        for row, label, result, flag in zip(rows, labels, results, predicted, strict=True)
        if flag != bool(label)
    ]
    rho = spearmanr([r.score for r in results], [int(row["intensity"]) for row in rows])
    return Evaluation(
        rows=len(rows),
        precision=true_pos / max(1, sum(predicted)),
        recall=true_pos / max(1, sum(labels)),
        spearman=float(rho.statistic),
        errors=errors,
    )


# --- GoEmotions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    text: str
    grade: int
    anger_only: bool
    positive: bool  # calm with a positive label (joy, gratitude, approval), not only neutral
    report_half: bool


def grade_of(labels: set[str]) -> int | None:
    """The documented grade of a comment's label set, None when mixed or other."""
    if labels and labels <= FRUSTRATED | MILD and labels & FRUSTRATED:
        return 2
    if labels and labels <= MILD:
        return 1
    if labels and labels <= CALM:
        return 0
    return None


def is_report_half(text: str) -> bool:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 2 == 1


def load_goemotions(data: Path) -> list[Graded]:
    folder = data if data.is_dir() else data.parent
    names = (folder / "labels.txt").read_text(encoding="utf-8").split()
    files = [folder / "test.tsv", folder / "dev.tsv"] if data.is_dir() else [data]
    graded = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            text, ids, _ = line.split("\t")
            labels = {names[int(i)] for i in ids.split(",")}
            grade = grade_of(labels)
            if grade is not None:
                graded.append(
                    Graded(
                        text,
                        grade,
                        anger_only=labels == {"anger"},
                        positive=grade == 0 and labels != {"neutral"},
                        report_half=is_report_half(text),
                    )
                )
    return graded


def old_scorer(ref: str) -> Callable[[Sequence[str]], np.ndarray] | None:
    """The rule scorer as it was at `ref`, or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{ref}:bot/frustration.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_frustration")
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    try:
        exec(compile(source, f"{ref}:bot/frustration.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return lambda texts: np.array([module.score_message(t).score for t in texts])


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    ranks = rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(scores) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bootstrap(
    statistic: Callable[[np.ndarray], float], n: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    whole = statistic(np.arange(n))
    draws = [statistic(rng.integers(0, n, n)) for _ in range(BOOTSTRAP)]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return whole, float(low), float(high)


def _wilson(hits: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return math.nan, math.nan, math.nan
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def _fmt(figure: tuple[float, float, float]) -> str:
    return f"{figure[0]:.3f} [{figure[1]:.3f}, {figure[2]:.3f}]"


def config_threshold() -> float:
    """EscalationPolicy's frustration_threshold in bot/config.yml."""
    config = yaml.safe_load((ROOT / "bot/config.yml").read_text(encoding="utf-8"))
    (policy,) = [p for p in config["policies"] if p["name"].endswith("EscalationPolicy")]
    return float(policy["frustration_threshold"])


def _scorer_figures(
    scores: np.ndarray,
    escalated: np.ndarray,
    grades: np.ndarray,
    anger: np.ndarray,
    positive: np.ndarray,
) -> tuple[str, str]:
    """Spearman and AUC with bootstrap intervals; escalation rates with Wilson intervals."""
    rng = np.random.default_rng(0)
    clear = np.flatnonzero(grades != 1)
    rho = _bootstrap(lambda i: float(spearmanr(scores[i], grades[i]).statistic), len(grades), rng)
    auc = _bootstrap(lambda i: _auc(scores[clear[i]], grades[clear[i]] == 2), len(clear), rng)
    rates = [
        _fmt(_wilson(int(escalated[mask].sum()), int(mask.sum())))
        for mask in (grades == 2, anger, grades == 0, positive)
    ]
    return (
        f"Spearman {_fmt(rho)}  AUC(2 vs 0) {_fmt(auc)}",
        f"escalated: grade 2 {rates[0]}, anger only {rates[1]}; grade 0 {rates[2]},"
        f" of them positive {rates[3]}",
    )


def report(rows: list[Graded], scorers: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Print the figures of each scorer (scores, escalated flags) on `rows`."""
    grades = np.array([r.grade for r in rows])
    anger = np.array([r.anger_only for r in rows])
    positive = np.array([r.positive for r in rows])
    counts = ", ".join(f"grade {g}: {int((grades == g).sum())}" for g in (0, 1, 2))
    print(
        f"  n={len(rows)} ({counts}; anger only: {int(anger.sum())},"
        f" positive calm: {int(positive.sum())})"
    )
    for name, (scores, escalated) in scorers.items():
        ranking, rates = _scorer_figures(scores, escalated, grades, anger, positive)
        print(f"  {name:<16} {ranking}")
        print(f"  {'':<16} {rates}")


HALVES = {"report": ("report half (headline)", True), "dev": ("dev half", False)}


def evaluate_goemotions(
    data: Path, old_ref: str, threshold: float, halves: Sequence[str] = tuple(HALVES)
) -> None:
    """Figures per half; `halves` limits them (iterate on "dev" without seeing "report")."""
    wanted = {HALVES[half][1] for half in halves}
    rows = [row for row in load_goemotions(data) if row.report_half in wanted]
    texts = [r.text for r in rows]
    ours = np.array([r.score for r in default_model().score_texts(texts)])
    compound = vader_features(texts)[:, 0]
    scorers = {
        "frustration v2": (ours, ours >= threshold),
        "VADER alone": ((1 - compound) / 2, compound <= VADER_STRONG_NEGATIVE),
    }
    old = old_scorer(old_ref)
    if old is None:
        print(f"(old scorer at {old_ref} not available from git: baseline skipped)")
    else:
        old_scores = old(texts)
        scorers["old rule scorer"] = (old_scores, old_scores >= OLD_SCORER_THRESHOLD)
    print(
        f"GoEmotions {data}; escalation threshold {threshold}, old scorer"
        f" {OLD_SCORER_THRESHOLD}, VADER at compound <= {VADER_STRONG_NEGATIVE}; 95% CIs: bootstrap"
        f" ({BOOTSTRAP}x) for Spearman/AUC, Wilson for rates"
    )
    for half, flag in (HALVES[half] for half in halves):
        print(half)
        index = [i for i, r in enumerate(rows) if r.report_half == flag]
        report(
            [rows[i] for i in index],
            {name: (s[index], e[index]) for name, (s, e) in scorers.items()},
        )


def evaluate_complaints(
    path: Path, threshold: float, halves: Sequence[str] = tuple(HALVES)
) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(text, label == "1") for _id, text, label, _domain in csv.reader(handle)]
    print(
        f"Complaints {path}; escalation threshold {threshold}, VADER at compound <="
        f" {VADER_STRONG_NEGATIVE}; 95% CIs: bootstrap ({BOOTSTRAP}x) for AUC, Wilson for rates"
    )
    for half in halves:
        name, flag = HALVES[half]
        chosen = [(text, complaint) for text, complaint in rows if is_report_half(text) == flag]
        texts = [text for text, _ in chosen]
        complaint = np.array([c for _, c in chosen])
        ours = np.array([r.score for r in default_model().score_texts(texts)])
        compound = vader_features(texts)[:, 0]
        print(f"{name}: n={len(chosen)} (complaints: {int(complaint.sum())})")
        scorers = {
            "frustration v2": (ours, ours >= threshold),
            "VADER alone": ((1 - compound) / 2, compound <= VADER_STRONG_NEGATIVE),
        }
        for scorer, (scores, escalated) in scorers.items():
            rng = np.random.default_rng(0)
            auc = _bootstrap(lambda i, s=scores, c=complaint: _auc(s[i], c[i]), len(scores), rng)
            rates = [
                _fmt(_wilson(int(escalated[mask].sum()), int(mask.sum())))
                for mask in (complaint, ~complaint)
            ]
            print(
                f"  {scorer:<16} AUC(complaint vs not) {_fmt(auc)}  escalated: complaints"
                f" {rates[0]}, the rest {rates[1]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, help="GoEmotions directory or tsv file")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--errors", action="store_true", help="list misclassified messages")
    parser.add_argument("--old-ref", default=OLD_SCORER_REF, help="git ref of the old scorer")
    parser.add_argument(
        "--escalate-at",
        type=float,
        default=None,
        help="escalation threshold on GoEmotions (default: bot/config.yml's)",
    )
    parser.add_argument("--half", choices=tuple(HALVES), help="GoEmotions: only this half")
    parser.add_argument("--complaints", type=Path, help="complaints-data.csv of customer tweets")
    args = parser.parse_args()
    if args.complaints:
        threshold = config_threshold() if args.escalate_at is None else args.escalate_at
        evaluate_complaints(args.complaints, threshold, (args.half,) if args.half else ("dev",))
        return
    if args.data:
        threshold = config_threshold() if args.escalate_at is None else args.escalate_at
        halves = (args.half,) if args.half else tuple(HALVES)
        evaluate_goemotions(args.data, args.old_ref, threshold, halves)
        return
    result = evaluate(args.threshold)
    if args.errors:
        for text, label, score, signals in result.errors:
            print(f"label={label} score={score:.2f} {','.join(signals) or '-'} | {text}")
    print(f"messages:  {result.rows}")
    print(f"threshold: {args.threshold}")
    print(f"precision: {result.precision:.3f}")
    print(f"recall:    {result.recall:.3f}")
    print(f"spearman:  {result.spearman:.3f}  (score vs labelled intensity 0-3)")


if __name__ == "__main__":
    main()
