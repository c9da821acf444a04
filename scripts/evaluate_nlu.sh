#!/usr/bin/env bash
# Intent accuracy and macro F1 of models/care.tar.gz on the held-out set tests/nlu/test_intents.yml.
# Usage: bash scripts/evaluate_nlu.sh [model]   (run from anywhere; reports land in results/nlu/)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/care.tar.gz}"
export RASA_TELEMETRY_ENABLED=false
PYTHONPATH=. .venv-bot/bin/rasa test nlu --nlu tests/nlu/test_intents.yml --model "$MODEL" \
  --out results/nlu >results/nlu.log 2>&1 || { tail -n 30 results/nlu.log; exit 1; }
.venv-bot/bin/python - <<'PY'
import json

report = json.load(open("results/nlu/intent_report.json"))
errors = json.load(open("results/nlu/intent_errors.json"))
print(f"intent accuracy {report['accuracy']:.3f}  macro F1 {report['macro avg']['f1-score']:.3f}")
for name, row in sorted(report.items()):
    if isinstance(row, dict) and "support" in row and name not in {"macro avg", "weighted avg", "micro avg"}:
        print(f"  {name:<18} F1 {row['f1-score']:.2f}  support {row['support']}")
print(f"{len(errors)} misclassified:")
for error in errors:
    predicted = error["intent_prediction"]
    print(f"  {error['intent']:>17} -> {predicted['name']:<17} {predicted['confidence']:.2f}  {error['text']}")
PY
