#!/usr/bin/env bash
# Starts the product on its embedded default (SQLite, no other server) and stops it on Ctrl-C.
# Called by `make run` after the environments exist and the model is trained.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

.venv-bot/bin/python -m actions.server --port "$ACTIONS_PORT" &
pids+=($!)
.venv-bot/bin/rasa run --model models/care.tar.gz --port "$RASA_PORT" --enable-api --cors "*" \
  --credentials bot/credentials.yml --endpoints bot/endpoints.yml &
pids+=($!)

cat <<MSG

  Lumen Home care is starting (embedded default: SQLite in var/, no other server).
    Bot (Rasa REST channel):  http://127.0.0.1:${RASA_PORT}/webhooks/rest/webhook
    Rasa HTTP API:            http://127.0.0.1:${RASA_PORT}/status
    Action server:            http://127.0.0.1:${ACTIONS_PORT}/health
  Try it:  curl -s -XPOST localhost:${RASA_PORT}/webhooks/rest/webhook \\
             -d '{"sender": "demo", "message": "hi"}'
  Stop with Ctrl-C.

MSG
wait -n "${pids[@]}"
