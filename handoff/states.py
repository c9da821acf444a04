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
}

# A human (or the queue) holds these; the bot stays silent and a new intake updates the entry.
WITH_PEOPLE = frozenset({Status.QUEUED, Status.ASSIGNED})


def transition(action: Action) -> Transition:
    return TRANSITIONS[action]


def allowed(action: Action, status: Status) -> bool:
    return status in TRANSITIONS[action].sources
