"""The words and formats every process agrees on: authors, channels, delivery statuses, times.

Plus the small checks the contract messages are validated with (`text`, `optional_text`, …):
each raises `ContractError` naming the field, never converts a value between types (`"5"` is
not 5), and refuses text no database column could hold (NUL, lone surrogates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from contracts.errors import ContractError

T = TypeVar("T")

# Who wrote a transcript line. Agent and system lines are the ones the handoff service sends
# through a connector; the bot's own lines are `bot`, the customer's `customer`.
CUSTOMER, BOT, AGENT, SYSTEM = "customer", "bot", "agent", "system"
AUTHOR_TYPES = (CUSTOMER, BOT, AGENT, SYSTEM)
HUMAN_AUTHORS = (AGENT, SYSTEM)
BOT_EVENT_AUTHORS = (BOT, AGENT, SYSTEM)  # what a Rasa bot event's metadata may say

# Channels by the name the handoff service keeps; Rasa's `rest` channel is the web chat.
WHATSAPP, MESSENGER, WEBCHAT = "whatsapp", "messenger", "webchat"
CHANNELS = (WHATSAPP, MESSENGER, WEBCHAT)
CHANNEL_ALIASES = {"rest": WEBCHAT, "facebook": MESSENGER}

# A delivered line's status only moves forward in this order; `failed` is final.
PENDING, SENT, DELIVERED, READ, FAILED = "pending", "sent", "delivered", "read", "failed"
DELIVERY_PROGRESS = (PENDING, SENT, DELIVERED, READ, FAILED)
REPORTED_STATUSES = DELIVERY_PROGRESS[1:]  # what a channel reports


def channel_name(value: str | None) -> str | None:
    """The channel under the name the handoff service keeps (`rest` -> `webchat`); None stays."""
    return CHANNEL_ALIASES.get(value, value) if value else None


def replaced_statuses(status: str) -> tuple[str, ...]:
    """The statuses a line may have for `status` to replace it (the ones before it)."""
    return DELIVERY_PROGRESS[: DELIVERY_PROGRESS.index(status)]


def format_time(moment: datetime | float) -> str:
    """ISO-8601 UTC to the millisecond with a `Z`, e.g. `2026-11-21T12:00:00.000Z`, from a
    datetime (naive ones are taken as UTC) or seconds since the epoch (Rasa's timestamps)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    stamp = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """Epoch seconds or an ISO-8601 string as an aware UTC datetime, to the millisecond.

    Anything else, or a time a datetime cannot hold (`1e20`), is a ValueError.
    """
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            moment = datetime.fromtimestamp(value, tz=timezone.utc)
        elif isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = (
                moment.astimezone(timezone.utc)
                if moment.tzinfo
                else moment.replace(tzinfo=timezone.utc)
            )
        else:
            raise ValueError("neither epoch seconds nor an ISO-8601 string")
    except (ValueError, OverflowError, OSError) as error:
        raise ValueError(f"not a usable time ({error}): {str(value)[:40]!r}") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def storable(value: str) -> str:
    """`value` when a database can store it as text, else a ValueError saying why."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def obj(value: Any, at: str = "") -> Mapping[str, Any]:
    """`value` when it is a JSON object."""
    if not isinstance(value, Mapping):
        raise ContractError(at, "must be an object", code="malformed_body")
    return value


def optional_text(body: Mapping[str, Any], name: str, max_length: int | None = None) -> str | None:
    """`body[name]`: absent or null is None, else a storable string of at most `max_length`."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContractError(name, "must be a string or null")
    return _fitting(name, value, max_length)


def text(body: Mapping[str, Any], name: str, max_length: int | None = None) -> str:
    """`body[name]`: a non-blank storable string of at most `max_length` (absent or blank is
    a missing field)."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ContractError(name, "is required", missing=True)
    if not isinstance(value, str):
        raise ContractError(name, "must be a string")
    return _fitting(name, value, max_length)


def _fitting(name: str, value: str, max_length: int | None) -> str:
    if max_length is not None and len(value) > max_length:
        raise ContractError(name, f"must be at most {max_length} characters")
    try:
        return storable(value)
    except ValueError as error:
        raise ContractError(name, str(error)) from None


def choice(body: Mapping[str, Any], name: str, choices: tuple[str, ...], code: str) -> str:
    """`body[name]`: one of `choices` (absent is a missing field)."""
    value = text(body, name)
    if value not in choices:
        raise ContractError(name, f"must be one of {', '.join(choices)}", code=code)
    return value


def required_time(body: Mapping[str, Any], name: str) -> datetime:
    """`body[name]`: an ISO-8601 time string (absent or empty is a missing field)."""
    value = body.get(name)
    if value is None or value == "":
        raise ContractError(name, "is required", missing=True)
    try:
        moment = parse_time(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ContractError(name, "must be an ISO-8601 time, e.g. 2026-11-21T12:00:00.000Z")
    return moment


def optional_number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ContractError(name, "must be a finite number or null")
    return float(value)


def each(items: Sequence[Any], parse: Callable[[Any], T], at: str = "") -> list[T]:
    """`parse` applied to every item; an error names the item (`statuses[2].at`, `[0].kind`)."""
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse(item))
        except ContractError as error:
            raise error.within(f"{at}[{index}]") from None
    return parsed
