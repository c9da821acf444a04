"""First-response targets (minutes) by mode and priority, for a conversation whose mode an agent
switches (the bot sets the target at handoff, with the same live-chat figures:
actions/priority.py). Live chats are answered within minutes; "answer later" within hours."""

from __future__ import annotations

MODES = ("sync", "async")
FIRST_RESPONSE_MINUTES: dict[str, dict[str, int]] = {
    "sync": {"urgent": 2, "high": 5, "normal": 20, "low": 30},
    "async": {"urgent": 60, "high": 240, "normal": 480, "low": 1440},
}


def first_response_minutes(mode: str, priority_name: str) -> int:
    targets = FIRST_RESPONSE_MINUTES[mode]
    return targets.get(priority_name, targets["normal"])
