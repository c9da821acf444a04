"""NLU parse and a full bot turn, sparse pipeline vs encoder pipeline, side by side in one run.

`PYTHONPATH=. .venv-bot/bin/python -m benchmarks.nlu_latency [--parses 100] [--turns 40]
[--trained-in models/eval]`

The two pipelines are those of scripts/nlu_models.py (`sparse`: main's before the encoder,
`encoder`: bot/config.yml), trained on this repository's data. Models already in `--trained-in`
(as scripts/evaluate_nlu.py leaves them) are reused with the training times recorded there;
otherwise both are trained first, and timed. Then, as in benchmarks/connectors_turn.py, each
pipeline gets its own action server and Rasa server (harness/stack.py) on 127.0.0.1, and
the two take turns in a rotating order so they share the machine's load:

- `parse`: `POST /model/parse` (Rasa's HTTP API: the whole NLU pipeline, plus loopback HTTP);
- `turn`: `POST /webhooks/rest/webhook` with an FAQ question, until the bot's replies (NLU,
  policies, the action server), one conversation per pipeline.

Prints min / median / p95 / max per pipeline and the encoder/sparse ratios of median and p95,
the training times, and the machine's load average; writes them to results/nlu_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

from benchmarks import summary_ms
from benchmarks.connectors_turn import QUESTIONS, TURN_TIMEOUT, start_bot
from harness import processes
from harness.stack import RASA_TOKEN
from scripts.nlu_models import PIPELINES, ROOT, train, training_seconds

# Written for this benchmark: short, long, misspelt, a few topics.
PARSE_TEXTS = (
    *QUESTIONS,
    "hi",
    "my hub is offline again",
    "i was charged twice this month, order LH20481937",
    "can i talk to somebody real please",
    "the app keeps crashing when i open the camera view and i already reinstalled it twice",
    "wheres my parcel",
    "are you a bot",
    "what's the capital of Peru",
)


def percentile_95(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=100, method="inclusive")[94]


async def timed_post(http: aiohttp.ClientSession, url: str, body: dict[str, str]) -> float:
    started = time.perf_counter()
    async with http.post(url, json=body) as answer:
        answer.raise_for_status()
        await answer.read()
    return time.perf_counter() - started


async def measure(
    models: dict[str, Path], parses: int, turns: int, workdir: Path
) -> dict[str, dict[str, list[float]]]:
    async with AsyncExitStack() as stack:
        urls = {}
        for name, model in models.items():
            (workdir / name).mkdir()
            urls[name] = await start_bot(stack, workdir / name, model=model)
        timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
        senders = {name: f"bench-nlu-{name}-{os.getpid()}" for name in models}

        async def parse(name: str, number: int) -> float:
            text = PARSE_TEXTS[number % len(PARSE_TEXTS)]
            url = f"{urls[name]}/model/parse?token={RASA_TOKEN}"  # Rasa's API needs the token
            return await timed_post(http, url, {"text": text})

        async def turn(name: str, number: int) -> float:
            body = {"sender": senders[name], "message": QUESTIONS[number % len(QUESTIONS)]}
            return await timed_post(http, f"{urls[name]}/webhooks/rest/webhook", body)

        for name in models:  # warm-up, left out: first parses, session start, every question
            for number in range(len(PARSE_TEXTS)):
                await parse(name, number)
            await timed_post(
                http,
                f"{urls[name]}/webhooks/rest/webhook",
                {"sender": senders[name], "message": "hi"},
            )
            for number in range(len(QUESTIONS)):
                await turn(name, number)

        names = list(models)
        seconds: dict[str, dict[str, list[float]]] = {n: {"parse": [], "turn": []} for n in names}
        for kind, count, step in (("parse", parses, parse), ("turn", turns, turn)):
            for number in range(count):
                for name in names[number % 2 :] + names[: number % 2]:
                    seconds[name][kind].append(await step(name, number))
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parses", type=int, default=100)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--trained-in", type=Path, default=ROOT / "models" / "eval")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu_latency.json")
    args = parser.parse_args()

    models = {name: args.trained_in / f"{name}.tar.gz" for name in PIPELINES}
    for name, model in models.items():
        if not model.exists():
            print(f"training the {name} pipeline into {args.trained_in} ...")
            train(name, args.trained_in)
    trained = training_seconds(args.trained_in)

    # Two Rasa servers loading TensorFlow and the encoder can take longer than the end-to-end
    # tests' limit on a machine busy with other work.
    processes.STARTUP_SECONDS = max(processes.STARTUP_SECONDS, 600.0)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="nlu-latency-") as workdir:
        seconds = asyncio.run(measure(models, args.parses, args.turns, Path(workdir)))
    load_after = os.getloadavg()

    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; 2 cores")
    print(f"{args.parses} parses and {args.turns} turns per pipeline (warm-up left out)")
    figures: dict[str, object] = {"load_before": load_before, "load_after": load_after}
    for kind in ("parse", "turn"):
        for name in PIPELINES:
            print(f"{kind:<6} {name:<8} {summary_ms(seconds[name][kind])}")
        medians = {name: statistics.median(seconds[name][kind]) for name in PIPELINES}
        p95s = {name: percentile_95(seconds[name][kind]) for name in PIPELINES}
        ratio_median = medians["encoder"] / medians["sparse"]
        ratio_p95 = p95s["encoder"] / p95s["sparse"]
        print(f"{kind:<6} encoder/sparse: median {ratio_median:.2f}x, p95 {ratio_p95:.2f}x")
        figures[kind] = {
            "n": len(seconds["sparse"][kind]),
            "median_ms": {name: round(value * 1000, 2) for name, value in medians.items()},
            "p95_ms": {name: round(value * 1000, 2) for name, value in p95s.items()},
            "ratio_median": round(ratio_median, 3),
            "ratio_p95": round(ratio_p95, 3),
        }
    if set(trained) >= set(PIPELINES):
        ratio = trained["encoder"] / trained["sparse"]
        print(
            f"training (rasa train, NLU and dialogue): sparse {trained['sparse']:.0f} s, "
            f"encoder {trained['encoder']:.0f} s ({ratio:.2f}x)"
        )
        figures["training_seconds"] = trained
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
