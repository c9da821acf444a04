"""Body size limits per endpoint (`safe_json.parse_json(max_bytes=...)` enforces them).

Sanic 21.12 reads the whole body before a handler runs, up to `REQUEST_MAX_SIZE` (100 MB by
default) and answers 413 itself above it: `scripts/run.sh` and the test stacks lower that with
`SANIC_REQUEST_MAX_SIZE=GLOBAL_MAX_BYTES`, the largest limit here; each endpoint refuses with
413 what is over its own limit.
"""

WEBHOOK_MAX_BYTES = 3 * 1024 * 1024  # Meta's WhatsApp webhook docs: payloads up to 3 MB
DELIVER_MAX_BYTES = 64 * 1024  # one line of at most 4000 characters, as JSON
FRAME_MAX_BYTES = 64 * 1024  # a web chat frame carries one such line
MEDIA_MAX_BYTES = 100 * 1024 * 1024  # the largest media file WhatsApp takes (documents)
GLOBAL_MAX_BYTES = WEBHOOK_MAX_BYTES
