"""JSON from outside (webhooks, deliver calls, web chat frames), parsed with bounds.

`json.loads` recurses once per nesting level, so a validly signed body of 100,000 `[` raises
RecursionError, which escapes the usual `except ValueError`. Here every way a body can be unfit
is one `JsonRejected` (a ValueError) with a reason the endpoint turns into a clear answer.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # Meta's webhook payloads nest about 8 levels; our own frames 2


class JsonRejected(ValueError):
    """`reason` is `malformed_json`, `too_deep` or `too_large`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def http_status(self) -> int:
        """413 Payload Too Large, else 400 Bad Request."""
        return 413 if self.reason == "too_large" else 400


def parse_json(raw: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `raw`, or `JsonRejected` when it is too large, too deep or not JSON."""
    if len(raw) > max_bytes:
        raise JsonRejected("too_large", f"The body is larger than {max_bytes} bytes.")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonRejected("too_deep", _too_deep(max_depth)) from None
    except (TypeError, ValueError) as error:  # also bytes that are not UTF-8
        raise JsonRejected("malformed_json", "The body is not valid JSON.") from error
    if _depth(value) > max_depth:
        raise JsonRejected("too_deep", _too_deep(max_depth))
    return value


def _too_deep(max_depth: int) -> str:
    return f"The JSON nests more than {max_depth} levels of objects and lists."


def _depth(value: Any) -> int:
    """How many containers deep `value` goes, without recursing (it may be ~1000 deep)."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest = 0
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
