#!/usr/bin/env bash
# Starts the whole product on its embedded default (SQLite files in var/, no other server) and
# stops it on Ctrl-C. Called by `make run` once the environments exist and the model is trained.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
export HANDOFF_PORT="${HANDOFF_PORT:-8000}"

source scripts/secrets.sh  # var/secrets.env, made once
SIMULATOR_PORT="${SIMULATOR_PORT:-5077}"
export WHATSAPP_PHONE_NUMBER_ID="${WHATSAPP_PHONE_NUMBER_ID:-100200300400500}"
export CONNECTORS_STATE_DB="${CONNECTORS_STATE_DB:-$PWD/var/connectors.sqlite3}"
export HANDOFF_OUTBOX_PATH="${HANDOFF_OUTBOX_PATH:-$PWD/var/handoff-outbox.sqlite3}"
if [ -z "${GRAPH_API_URL:-}" ]; then  # no real Graph API configured: use the channel simulator
  export GRAPH_API_URL="http://127.0.0.1:${SIMULATOR_PORT}/v21.0"
  START_SIMULATOR=1
fi
export HANDOFF_URL="http://127.0.0.1:${HANDOFF_PORT}"
export PUBLIC_URL="${PUBLIC_URL:-$HANDOFF_URL}"  # where customers open secure form links
export ACTION_ENDPOINT_URL="http://127.0.0.1:${ACTIONS_PORT}/webhook"
export RASA_URL="http://127.0.0.1:${RASA_PORT}"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$PWD/var/handoff.sqlite3}"
export EVENT_SOURCE="${EVENT_SOURCE:-sql:sqlite:///$RASA_EVENTS_DB}"

# Demo agents on first run; their passwords are printed once by the CLI, so keep them, beside
# the store they belong to (a run on other files, as the load benchmark's, keeps its own).
DEMO_LOGINS="${DEMO_LOGINS:-$PWD/var/demo-logins.txt}"
if [ ! -f "$DEMO_LOGINS" ]; then
  .venv-handoff/bin/python -m handoff.cli migrate
  .venv-handoff/bin/python -m handoff.cli seed-demo > "$DEMO_LOGINS"
  .venv-handoff/bin/python -m handoff.cli seed-history  # three weeks for the KPI dashboard
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

.venv-bot/bin/python -m actions.server --port "$ACTIONS_PORT" &
pids+=($!)
if [ -n "${START_SIMULATOR:-}" ]; then
  .venv-bot/bin/python -m tools.simulator serve --port "$SIMULATOR_PORT" \
    --record var/simulator-outbox.jsonl &
  pids+=($!)
fi
.venv-handoff/bin/python -m handoff &
pids+=($!)
# Rasa's HTTP API with RASA_TOKEN only, on loopback, no CORS; bodies over 3 MiB refused.
scripts/rasa-server.sh --model models/care.tar.gz --port "$RASA_PORT" &
pids+=($!)

cat <<MSG

  Lumen Home care is starting (embedded default: SQLite files in var/, no other server).
    Agent console:            http://127.0.0.1:${HANDOFF_PORT}/
    Handoff API (OpenAPI):    http://127.0.0.1:${HANDOFF_PORT}/api/openapi.json
    Web chat (customer):      http://127.0.0.1:${RASA_PORT}/webhooks/webchat/
    WhatsApp / Messenger:     http://127.0.0.1:${RASA_PORT}/webhooks/{whatsapp,messenger}/webhook
    Action server:            http://127.0.0.1:${ACTIONS_PORT}/health
  Log in to the console with one of these demo accounts ($DEMO_LOGINS):
$(sed 's/^/    /' "$DEMO_LOGINS")
  Talk to the bot as a customer: open the web chat above, or simulate a channel
  (docs/channel-simulator.md):
    .venv-bot/bin/python -m tools.simulator whatsapp "hi"
  Stop with Ctrl-C.

MSG
wait -n "${pids[@]}"
