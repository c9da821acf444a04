"""Evaluate the frustration scorer on the labelled customer messages.

Prints precision and recall of "frustrated" (score >= threshold) and the Spearman rank
correlation between the score and the labelled intensity (0..3).

    python scripts/evaluate_frustration.py [--threshold 0.5] [--errors]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import spearmanr

from bot.frustration import score_message

DATASET = Path(__file__).resolve().parent.parent / "tests/fixtures/frustration/labelled.csv"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Evaluation:
    rows: int
    precision: float
    recall: float
    spearman: float
    errors: list[tuple[str, int, float, tuple[str, ...]]]


def evaluate(threshold: float = DEFAULT_THRESHOLD, dataset: Path = DATASET) -> Evaluation:
    with dataset.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = [score_message(row["text"]) for row in rows]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--errors", action="store_true", help="list misclassified messages")
    args = parser.parse_args()
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
