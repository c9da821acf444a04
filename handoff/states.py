"""Conversation states and the allowed transitions, in one place (docs/handoff-service.md).

Services never compare status strings themselves: they ask `transition(action)` for the states an
action may start from and the state it leads to, and put the former in the WHERE clause of a
conditional UPDATE so the database decides races.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Action(str, Enum):
    INTAKE = "intake"
    CLAIM = "claim"
    TRANSFER_AGENT = "transfer_agent"
    TRANSFER_TEAM = "transfer_team"
    RELEASE = "release"
    RESOLVE = "resolve"
    RETURN_TO_BOT = "return_to_bot"
    # the customer wrote after a resolution (handoff/services/threads.py)
    REOPEN = "reopen"  # within the topic's reopen window: to the queue …
    REOPEN_TO_OWNER = "reopen_to_owner"  # … or straight to its last agent, if online
    NEW_WITH_BOT = "new_with_bot"  # after the window: the bot starts a new conversation
    AUTO_RESOLVE = "auto_resolve"  # the customer was silent for the topic's thread lifetime


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status


TRANSITIONS: dict[Action, Transition] = {
    Action.INTAKE: Transition(frozenset({Status.BOT, Status.RESOLVED}), Status.QUEUED),
    Action.CLAIM: Transition(frozenset({Status.QUEUED}), Status.ASSIGNED),
    Action.TRANSFER_AGENT: Transition(frozenset({Status.QUEUED, Status.ASSIGNED}), Status.ASSIGNED),
    Action.TRANSFER_TEAM: Transition(frozenset({Status.QUEUED, Status.ASSIGNED}), Status.QUEUED),
    Action.RELEASE: Transition(frozenset({Status.ASSIGNED}), Status.QUEUED),
    Action.RESOLVE: Transition(frozenset({Status.QUEUED, Status.ASSIGNED}), Status.RESOLVED),
    Action.RETURN_TO_BOT: Transition(frozenset({Status.ASSIGNED}), Status.BOT),
    Action.REOPEN: Transition(frozenset({Status.RESOLVED}), Status.QUEUED),
    Action.REOPEN_TO_OWNER: Transition(frozenset({Status.RESOLVED}), Status.ASSIGNED),
    Action.NEW_WITH_BOT: Transition(frozenset({Status.RESOLVED}), Status.BOT),
    Action.AUTO_RESOLVE: Transition(frozenset({Status.QUEUED, Status.ASSIGNED}), Status.RESOLVED),
}


@dataclass(frozen=True)
class QueueFilter:
    """Which conversations a queue page lists."""

    status: Status = Status.QUEUED
    team: str | None = None
    mode: str | None = None


# A human (or the queue) holds these; the bot stays silent and a new intake updates the entry.
WITH_PEOPLE = frozenset({Status.QUEUED, Status.ASSIGNED})


# Who looks at a conversation: its owner, a supervisor (or admin) who is not the owner, any
# other agent. The console picks its row of `allowed_actions` by this and offers nothing else.
VIEWERS = ("owner", "supervisor", "agent")


def allowed_actions(status: Status, viewer: str) -> list[str]:
    """The console actions `viewer` may take on a conversation in `status`: the same rules the
    services enforce (state from TRANSITIONS; everything but a claim needs the owner or a
    supervisor; only the owner replies)."""
    manages = viewer in ("owner", "supervisor")
    actions = ["claim"] if allowed(Action.CLAIM, status) else []
    if status is Status.ASSIGNED and viewer == "owner":
        actions.append("reply")
    if manages:
        by_state = {
            "transfer": allowed(Action.TRANSFER_AGENT, status),
            "release": allowed(Action.RELEASE, status),
            "resolve": allowed(Action.RESOLVE, status),
            "return_to_bot": allowed(Action.RETURN_TO_BOT, status),
            "switch_mode": status in WITH_PEOPLE,
            "snooze": status is Status.ASSIGNED,
        }
        actions += [name for name, ok in by_state.items() if ok]
    return actions


def transition(action: Action) -> Transition:
    return TRANSITIONS[action]


def allowed(action: Action, status: Status) -> bool:
    return status in TRANSITIONS[action].sources
