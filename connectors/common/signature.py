"""Meta's webhook signature (`X-Hub-Signature-256`), shared by WhatsApp and Messenger.

The algorithm is fixed here (HMAC-SHA256) and never taken from the request, and the comparison is
constant-time, unlike Rasa's built-in facebook channel.
"""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="


def sign_meta_payload(raw_body: bytes, app_secret: str) -> str:
    """The header value Meta would send for `raw_body`: ``sha256=<hex digest>``."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_meta_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """True only if `header` is a well-formed SHA-256 signature of the raw body."""
    if not header or not app_secret or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(
        sign_meta_payload(raw_body, app_secret).encode(), header.strip().encode()
    )
