#!/usr/bin/env bash
# The Rasa server as the product runs it; scripts/run.sh and the test stacks start it through here,
# so what the tests check is what ships. Extra arguments go to `rasa run` (e.g. --model, --port).
#
# - Rasa's HTTP API (trackers, events, trigger_intent, model) only with RASA_TOKEN (`?token=`);
#   without a token this script refuses to start.
# - Bound to 127.0.0.1: in production the channels' webhooks (/webhooks/<channel>/...) are reached
#   through a reverse proxy that forwards only /webhooks/ (see README, "For operators").
# - No CORS allowance for any origin: the web chat page and its websocket are served by this same
#   server, and a page on another site embeds the widget with <script>/<link> tags and the
#   websocket (origins checked by the channel's `allowed_origins`), none of which needs CORS.
# - Request bodies above SANIC_REQUEST_MAX_SIZE (default: the webhooks' 3 MiB) get 413 before any
#   handler; each endpoint then applies its own smaller limit (connectors/common/limits.py).
# - The channels come from RASA_CREDENTIALS (default bot/credentials.yml, no REST channel), the
#   stores and broker from RASA_ENDPOINTS (default bot/endpoints.yml, the embedded default).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RASA_TOKEN:-}" ]; then
  echo "RASA_TOKEN is empty: Rasa's HTTP API is never started without a token." >&2
  exit 2
fi
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-3145728}"
exec "${RASA_BIN:-.venv-bot/bin/rasa}" run --interface 127.0.0.1 --enable-api \
  --auth-token "$RASA_TOKEN" --credentials "${RASA_CREDENTIALS:-bot/credentials.yml}" \
  --endpoints "${RASA_ENDPOINTS:-bot/endpoints.yml}" "$@"
