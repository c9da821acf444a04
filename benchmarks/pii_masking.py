"""How long masking takes per message with the shipped rules (bot/pii.yml); prints figures.

`python -m benchmarks.pii_masking [--messages 10000]` in either environment: ordinary customer
messages (some with a card number, an id or a password), then the slowest shapes of the longest
text a channel carries (4,000 characters): many short digit groups, one long digit run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from contracts.pii import RuleSet

RULES = Path(__file__).resolve().parents[1] / "bot" / "pii.yml"
ORDINARY = (
    "Hi, my order LH20481937 has not arrived and I was charged twice this month",
    "card 4242 4242 4242 4242 exp 11/28, and my password is hunter2",
    "Mein Thermostat startet neu, Steuer-ID 86 095 742 719, IBAN DE89 3704 0044 0532 0130 00",
)
WORST = {
    "4,000 chars of '1 1 1 …'": " ".join("1" * 2000),
    "4,000 digits in one run": "7" * 4000,
    "4,000 chars of 'pw: x 4242 '": "pw: x 4242 " * 364,
}


def timed(work: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10000)
    args = parser.parse_args()
    rules = RuleSet.from_config(yaml.safe_load(RULES.read_text()), str(RULES))
    texts = [ORDINARY[i % len(ORDINARY)] for i in range(args.messages)]
    per_message = timed(lambda: [rules.mask(text) for text in texts], 1)[0] / len(texts)
    print(f"ordinary messages (n={len(texts)}): {per_message * 1e6:.0f} µs per message")
    for name, text in WORST.items():
        runs = timed(lambda text=text: rules.mask(text), 5)
        print(f"{name} (n=5): median {statistics.median(runs) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
