"""Messenger's messaging window: when a page may still answer a customer, and how.

Inside 24 hours of the customer's last message any reply is a plain ``RESPONSE``; after that a
person (not a bot) may answer for 7 days with the ``HUMAN_AGENT`` message tag; later, nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_WINDOW_SECONDS = 24 * 3600
HUMAN_AGENT_WINDOW_DAYS = 7
HUMAN_AGENT_WINDOW_SECONDS = HUMAN_AGENT_WINDOW_DAYS * 24 * 3600


@dataclass(frozen=True)
class SendPolicy:
    messaging_type: str
    tag: str | None = None


RESPONSE = SendPolicy("RESPONSE")
HUMAN_AGENT = SendPolicy("MESSAGE_TAG", "HUMAN_AGENT")


class OutsideWindow(Exception):
    """Too late to write to this customer on Messenger; the message says so for the agent."""

    def __init__(self, age_seconds: float) -> None:
        days = int(age_seconds // 86400)
        super().__init__(
            f"The customer last wrote {days} day{'s' if days != 1 else ''} ago; Messenger allows "
            f"a person to reply for {HUMAN_AGENT_WINDOW_DAYS} days only."
        )
        self.days = days


def human_reply_policy(last_customer_message_at: float, now: float) -> SendPolicy:
    """How a person's reply must be sent, given the customer's last message time (epoch s)."""
    age = max(0.0, now - last_customer_message_at)
    if age <= STANDARD_WINDOW_SECONDS:
        return RESPONSE
    if age <= HUMAN_AGENT_WINDOW_SECONDS:
        return HUMAN_AGENT
    raise OutsideWindow(age)
