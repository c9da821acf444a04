"""What the customer is told when a person joins or leaves: sent as system lines, so every
channel shows them the same way and they appear in the transcript."""

from __future__ import annotations


def joined(agent_name: str, brand: str) -> str:
    return f"{agent_name} from {brand} support joined the conversation."


def left(agent_name: str) -> str:
    return f"{agent_name} left the conversation; someone else from our team will reply here."


def closed(agent_name: str, brand: str) -> str:
    return f"{agent_name} closed this conversation. Thank you for contacting {brand}!"
