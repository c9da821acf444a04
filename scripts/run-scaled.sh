#!/usr/bin/env bash
# Starts the scaled topology and stops it on Ctrl-C (`make run-scaled`): two Rasa servers
# (PostgreSQL tracker store, Redis lock store, RabbitMQ event broker, SANIC_WORKERS workers each),
# two action servers, two handoff service instances on PostgreSQL sharing live events through
# Redis, behind HAProxy. Uses this machine's PostgreSQL, Redis and RabbitMQ (started when down).
# Everything binds to 127.0.0.1. The embedded default is scripts/run.sh (`make run`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# SCALED_DIR and SCALED_NAME (databases, broker queue, Redis channels) let a benchmark run a
# throwaway copy (benchmarks/load.py).
STATE="${SCALED_DIR:-var/scaled}"
NAME="${SCALED_NAME:-care_scaled}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
source scripts/secrets.sh  # var/secrets.env, made once (shared with `make run`)

# Public entry (webhooks, web chat, console) and the loopback entries the processes use.
export PUBLIC_PORT="${PUBLIC_PORT:-8080}" RASA_PORT="${RASA_PORT:-5005}"
export ACTIONS_PORT="${ACTIONS_PORT:-5055}" HANDOFF_PORT="${HANDOFF_PORT:-8000}"
export RASA1_PORT=5101 RASA2_PORT=5102 ACTIONS1_PORT=5151 ACTIONS2_PORT=5152
export HANDOFF1_PORT=8101 HANDOFF2_PORT=8102
export SANIC_WORKERS="${SANIC_WORKERS:-2}"  # per Rasa server; the Redis lock store makes it safe
SIMULATOR_PORT="${SIMULATOR_PORT:-5077}"
MODEL="${RASA_MODEL:-models/care.tar.gz}"

# The machine's services (/work/.library/env/machines/python-svc.md has the same commands).
PG_URL="postgresql://postgres@127.0.0.1:5432"
REDIS_URL="redis://127.0.0.1:6379"
pg_isready -q -h 127.0.0.1 -p 5432 ||
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 ||
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
rabbitmq-diagnostics -q ping >/dev/null 2>&1 || rabbitmq-server -detached
for _ in $(seq 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 &&
    rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1 && break
  sleep 1
done
for db in "$NAME" "${NAME}_tracker"; do
  psql -q "$PG_URL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psql -q "$PG_URL/postgres" -c "CREATE DATABASE $db"
done

# Rasa side: stores and broker (bot/endpoints-scaled.yml), channels as shipped plus web chat
# fan-out between the Rasa processes through Redis (connectors/webchat/relay.py).
export RASA_ENDPOINTS=bot/endpoints-scaled.yml RASA_CREDENTIALS="$STATE/credentials.yml"
export RASA_PG_HOST=127.0.0.1 RASA_PG_PORT=5432 RASA_PG_USER=postgres RASA_PG_PASSWORD=""
export RASA_PG_DB="${NAME}_tracker" RASA_REDIS_HOST=127.0.0.1 RASA_REDIS_PORT=6379 RASA_REDIS_DB=1
export RABBITMQ_HOST=127.0.0.1 RABBITMQ_PORT=5672 RABBITMQ_USER=guest RABBITMQ_PASSWORD=guest
export RABBITMQ_EXCHANGE="$NAME-events" RABBITMQ_QUEUE="$NAME-handoff"
.venv-bot/bin/python - "$RASA_CREDENTIALS" "$REDIS_URL/1" <<'PY'
import sys, yaml
channels = yaml.safe_load(open("bot/credentials.yml"))
channels["connectors.webchat.WebChatInput"]["fanout_url"] = sys.argv[2]
open(sys.argv[1], "w").write(yaml.safe_dump(channels, sort_keys=False))
PY
export WHATSAPP_PHONE_NUMBER_ID="${WHATSAPP_PHONE_NUMBER_ID:-100200300400500}"
export CONNECTORS_STATE_DB="$STATE/connectors.sqlite3"  # one file, every Rasa process
export HANDOFF_OUTBOX_PATH="$STATE/handoff-outbox.sqlite3"  # both action servers relay it
if [ -z "${GRAPH_API_URL:-}" ]; then  # no real Graph API configured: use the channel simulator
  export GRAPH_API_URL="http://127.0.0.1:${SIMULATOR_PORT}/v21.0"
  START_SIMULATOR=1
fi
export ACTION_ENDPOINT_URL="http://127.0.0.1:${ACTIONS_PORT}/webhook"
export HANDOFF_URL="http://127.0.0.1:${HANDOFF_PORT}"
# Handoff side: one PostgreSQL store, live events through Redis, Rasa reached through the proxy.
export DATABASE_URL="$PG_URL/$NAME" LIVE_REDIS_URL="$REDIS_URL/0" LIVE_CHANNEL="$NAME:live"
export RASA_URL="http://127.0.0.1:${RASA_PORT}" DELIVERY_URL="http://127.0.0.1:${RASA_PORT}"
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:${PUBLIC_PORT}}"
AMQP_SOURCE="amqp://guest:guest@127.0.0.1:5672/?exchange=$RABBITMQ_EXCHANGE&queue=$RABBITMQ_QUEUE"

if [ ! -f "$STATE/demo-logins.txt" ]; then
  .venv-handoff/bin/python -m handoff.cli migrate
  .venv-handoff/bin/python -m handoff.cli seed-demo > "$STATE/demo-logins.txt"
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM
# start NAME COMMAND...: in the background, its output in $STATE/NAME.log, started again when it
# dies (a crashed server comes back; benchmarks/load.py --chaos kills them). Three exits within
# 10 s of their start in a row (it cannot start) stop the whole topology.
start() {
  local name=$1
  shift
  (
    child=
    trap '[ -n "$child" ] && kill "$child" 2>/dev/null; wait; exit 0' TERM INT
    quick=0
    while [ "$quick" -lt 3 ]; do
      began=$SECONDS
      "$@" >>"$STATE/$name.log" 2>&1 &
      child=$!
      wait "$child" || true
      if [ $((SECONDS - began)) -lt 10 ]; then quick=$((quick + 1)); else quick=0; fi
      echo "$(date -u +%FT%TZ) run-scaled: $name exited, starting it again" >>"$STATE/$name.log"
      sleep 1
    done
  ) &
  pids+=($!)
}

start haproxy haproxy -db -f scripts/scaled/haproxy.cfg
if [ -n "${START_SIMULATOR:-}" ]; then
  start simulator .venv-bot/bin/python -m tools.simulator serve --port "$SIMULATOR_PORT" \
    --record "$STATE/simulator-outbox.jsonl"
fi
start actions1 .venv-bot/bin/python -m actions.server --port "$ACTIONS1_PORT"
start actions2 .venv-bot/bin/python -m actions.server --port "$ACTIONS2_PORT"
# Only one instance consumes the broker queue: two consumers would split a conversation's events.
start handoff1 env EVENT_SOURCE="$AMQP_SOURCE" HANDOFF_PORT="$HANDOFF1_PORT" .venv-handoff/bin/python -m handoff
start handoff2 env EVENT_SOURCE="" HANDOFF_PORT="$HANDOFF2_PORT" .venv-handoff/bin/python -m handoff
start rasa1 scripts/rasa-server.sh --model "$MODEL" --port "$RASA1_PORT"
start rasa2 scripts/rasa-server.sh --model "$MODEL" --port "$RASA2_PORT"

cat <<MSG

  Lumen Home care, scaled topology, is starting (logs in $STATE/; the Rasa servers take a
  minute or two to load the model, HAProxy sends nothing to a server before it answers).
    Agent console:            http://127.0.0.1:${PUBLIC_PORT}/
    Web chat (customer):      http://127.0.0.1:${PUBLIC_PORT}/webhooks/webchat/
    WhatsApp / Messenger:     http://127.0.0.1:${PUBLIC_PORT}/webhooks/{whatsapp,messenger}/webhook
    Behind HAProxy: Rasa ${RASA1_PORT} ${RASA2_PORT} (${SANIC_WORKERS} workers each), actions \
${ACTIONS1_PORT} ${ACTIONS2_PORT}, handoff ${HANDOFF1_PORT} ${HANDOFF2_PORT}
    Stores: PostgreSQL $NAME (handoff), ${NAME}_tracker (Rasa); Redis; RabbitMQ
  Log in to the console with one of these demo accounts ($STATE/demo-logins.txt):
$(sed 's/^/    /' "$STATE/demo-logins.txt")
  Stop with Ctrl-C.

MSG
status=0
wait -n "${pids[@]}" || status=$?
echo "A process of the scaled topology cannot start (status $status): see $STATE/*.log" >&2
exit "$status"
