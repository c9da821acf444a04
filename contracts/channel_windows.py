"""When a channel lets a business write free text to a customer (the handoff service refuses
and the console explains; the connectors send what the service decided).

- WhatsApp: free text within 24 hours of the customer's last message; after that only an
  approved template.
- Messenger: free text within 24 hours (standard messaging); then, for a person's reply, up to
  7 days with the `HUMAN_AGENT` message tag; after that nothing until the customer writes.
- Web chat: always open.

Pure module: the service and the connectors agree on it through `DeliverRequest` (its `tag` and
`template` fields), so neither side guesses what the other one meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.values import MESSENGER, WHATSAPP

OPEN, TAGGED, CLOSED = "open", "tagged", "closed"  # free text / free text with a tag / neither
HUMAN_AGENT_TAG = "HUMAN_AGENT"
MESSAGE_TAGS = (HUMAN_AGENT_TAG,)
FREE_HOURS = {WHATSAPP: 24, MESSENGER: 24}
TAGGED_DAYS = {MESSENGER: 7}
TEMPLATE_CHANNELS = frozenset({WHATSAPP})  # a closed window can be reopened with a template


@dataclass(frozen=True)
class WindowState:
    """Where a conversation stands: `state`, the time it moves to the next (None: never), and
    the message tag a reply must carry now (Messenger after 24 hours)."""

    state: str
    closes_at: datetime | None = None
    tag: str | None = None

    @property
    def free_text(self) -> bool:
        return self.state != CLOSED


def window_state(
    channel: str | None, last_customer_at: datetime | None, now: datetime
) -> WindowState:
    """The window of `channel` given the customer's latest message (None: never wrote)."""
    hours = FREE_HOURS.get(channel or "")
    if hours is None:
        return WindowState(OPEN)
    if last_customer_at is None:
        return WindowState(CLOSED)
    free_until = last_customer_at + timedelta(hours=hours)
    if now < free_until:
        return WindowState(OPEN, free_until)
    days = TAGGED_DAYS.get(channel or "")
    if days is not None and now < last_customer_at + timedelta(days=days):
        return WindowState(TAGGED, last_customer_at + timedelta(days=days), HUMAN_AGENT_TAG)
    return WindowState(CLOSED)


def template_allowed(channel: str | None) -> bool:
    return channel in TEMPLATE_CHANNELS


def closed_reason(channel: str | None, last_customer_at: datetime | None, now: datetime) -> str:
    """Why free text cannot go now, for the agent (the service's 409 and the console)."""
    name = {WHATSAPP: "WhatsApp", MESSENGER: "Messenger"}.get(channel or "", channel or "")
    if last_customer_at is None:
        wrote = f"The customer has not written on {name} yet"
    else:
        hours = int((now - last_customer_at).total_seconds() // 3600)
        ago = f"{hours} hours" if hours < 48 else f"{hours // 24} days"
        wrote = f"The customer last wrote {ago} ago"
    if channel == MESSENGER:
        rule = f"{name} lets a person reply for {TAGGED_DAYS[MESSENGER]} days only"
        return f"{wrote}; {rule}. Wait for the customer to write again."
    rule = f"{name} allows free text only within {FREE_HOURS.get(channel or '', 24)} hours"
    return f"{wrote}; {rule}. Send the template to ask them to reply."
