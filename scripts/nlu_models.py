"""The two NLU pipelines compared by scripts/evaluate_nlu.py and benchmarks/nlu_latency.py.

- `encoder`: `bot/config.yml` as it is (sparse featurizers plus the sentence encoder);
- `sparse`: the same file without `SentenceEncoderFeaturizer` and with the epochs main had
  before the encoder (`SPARSE_EPOCHS`): main's pipeline, trained on the same data and domain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "bot" / "config.yml"
ENCODER_COMPONENT = "SentenceEncoderFeaturizer"
PIPELINES = ("sparse", "encoder")
TRAINING_TIMES = "training-seconds.json"
SPARSE_EPOCHS = {"DIETClassifier": 60, "ResponseSelector": 80}


def pipeline_config(pipeline: str, workdir: Path, max_epochs: int | None = None) -> Path:
    """A config file for `pipeline`, written into `workdir` unless it is bot/config.yml as is.

    `max_epochs` caps every component's epochs: a quicker, rougher look on a busy machine.
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; known: {', '.join(PIPELINES)}")
    if pipeline == "encoder" and max_epochs is None:
        return CONFIG
    config = yaml.safe_load(CONFIG.read_text())
    steps = config["pipeline"]
    if pipeline == "sparse":
        steps = [
            {**step, "epochs": SPARSE_EPOCHS[step["name"]]}
            if step["name"] in SPARSE_EPOCHS
            else step
            for step in steps
            if not step["name"].endswith(ENCODER_COMPONENT)
        ]
    if max_epochs is not None:
        steps = [
            {**step, "epochs": min(step["epochs"], max_epochs)} if "epochs" in step else step
            for step in steps
        ]
    config["pipeline"] = steps
    path = workdir / f"config.{pipeline}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train(pipeline: str, out_dir: Path, max_epochs: int | None = None) -> tuple[Path, float]:
    """Trains the whole bot (NLU and dialogue) with `pipeline` on data/ and bot/domain;
    returns the model's path and the wall-clock seconds `rasa train` took."""
    out_dir.mkdir(parents=True, exist_ok=True)
    config = pipeline_config(pipeline, out_dir, max_epochs)
    log = out_dir / f"train-{pipeline}.log"
    args = [
        str(Path(sys.executable).with_name("rasa")), "train",
        "--config", str(config), "--domain", str(ROOT / "bot" / "domain"),
        "--data", str(ROOT / "data"), "--out", str(out_dir),
        "--fixed-model-name", pipeline, "--force",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    started = time.perf_counter()
    with log.open("w") as output:
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    model = out_dir / f"{pipeline}.tar.gz"
    if done.returncode != 0 or not model.exists():
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"training the {pipeline} pipeline failed (log {log}):\n{tail}")
    times = out_dir / TRAINING_TIMES
    recorded = json.loads(times.read_text()) if times.exists() else {}
    times.write_text(json.dumps({**recorded, pipeline: round(seconds, 1)}, indent=2) + "\n")
    return model, seconds


def training_seconds(out_dir: Path) -> dict[str, float]:
    """The training times `train` recorded for the models in `out_dir`."""
    times = out_dir / TRAINING_TIMES
    return json.loads(times.read_text()) if times.exists() else {}
