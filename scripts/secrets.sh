# Sourced by scripts/run.sh and scripts/run-scaled.sh: the local secrets the processes share,
# made once and kept in var/secrets.env (never committed). Values already in the environment
# (real channel credentials) win over them.
(
  umask 077
  mkdir -p var
  touch var/secrets.env
  for name in HANDOFF_API_TOKEN DELIVERY_TOKEN RASA_TOKEN WHATSAPP_VERIFY_TOKEN \
    WHATSAPP_APP_SECRET WHATSAPP_ACCESS_TOKEN MESSENGER_VERIFY_TOKEN MESSENGER_APP_SECRET MESSENGER_PAGE_ACCESS_TOKEN \
    SECURE_FORM_KEY ERASURE_TOKEN; do
    grep -q "^$name=" var/secrets.env || echo "$name=$(openssl rand -hex 24)" >> var/secrets.env
  done
)
while IFS='=' read -r name value; do
  [ -n "${!name:-}" ] || export "$name=$value"
done < var/secrets.env
