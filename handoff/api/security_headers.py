"""Security headers on every answer: the console's pages may load only their own files (no
inline script or style, no framing), nothing is sniffed or sent as a referrer, and API answers,
which carry customers' and agents' data, are never cached."""

from __future__ import annotations

from sanic import Request
from sanic.response import BaseHTTPResponse

CONSOLE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # data: for the page's empty favicon
        "connect-src 'self'",  # the API and its websocket on the same host
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def is_console(path: str) -> bool:
    return path == "/" or path.startswith("/console/")


async def add_security_headers(request: Request, response: BaseHTTPResponse) -> None:
    headers = response.headers
    for name, value in COMMON.items():
        headers.setdefault(name, value)
    policy = CONSOLE_POLICY if is_console(request.path) else API_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    if request.path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
