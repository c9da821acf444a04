"""Priority, mode (sync/async), team and tags of a handoff, with the reasons an agent reads.

Pure policy, no Rasa import. It follows common care practice:

- safety and security (smoke or security alarm, a failing smart lock, locked out of home, a hacked
  account) is URGENT and handled live;
- a clearly frustrated customer, a repeat contact, or one question spanning several systems
  (billing and a device, an account and an order) is HIGH and handled live;
- an ordinary problem is NORMAL;
- a simple how-do-I question and praise are LOW and answered asynchronously.

The most urgent rule that fires sets the priority. The customer's own mode choice wins; a reason
records when policy would have chosen differently. All thresholds and word lists are here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum

# --- Tunables ------------------------------------------------------------------------------------

FRUSTRATION_HIGH = 0.7  # score at or above which a customer counts as clearly frustrated
MULTI_SYSTEM_MIN = 2  # distinct systems in one question that make it multi-system
FIRST_RESPONSE_MINUTES = {"URGENT": 2, "HIGH": 5, "NORMAL": 20, "LOW": 30}  # per Priority name
SYNC_UP_TO = "HIGH"  # this priority and more urgent ones are live unless the customer chose async

# Intent names (a retrieval intent counts by its family: "faq/reset_password" is "faq").
HOW_TO_INTENTS = frozenset({"faq"})
PRAISE_INTENTS = frozenset({"praise"})
REPEAT_CONTACT_SIGNALS = frozenset({"repeated_contact"})  # bot/frustration.py signal names


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


_FAILURE = (
    r"(?:won'?t|can'?t|cannot|doesn'?t|does not|isn'?t|not|fail\w*|stuck|jammed|broken|dead"
    r"|offline|unresponsive|error|keeps?|beep\w*|went off|going off|sounding)"
)


def _near(thing: str, within: int = 40) -> re.Pattern[str]:
    """`thing` and a failure word in either order, at most `within` characters apart."""
    return re.compile(
        rf"\b{thing}\b.{{0,{within}}}\b{_FAILURE}\b|\b{_FAILURE}\b.{{0,{within}}}\b{thing}\b",
        re.IGNORECASE,
    )


# Safety issue label -> pattern over the customer's words.
SAFETY_PATTERNS: dict[str, re.Pattern[str]] = {
    "smoke, fire or gas": _words(
        r"smoke(?! alarm| detector)", r"fire", r"carbon monoxide", r"burning smell", r"gas leak"
    ),
    "intruder or break-in": _words(r"intruders?", r"break-?in", r"broke in", r"burglar(?:s|y)?"),
    "alarm failure": _near(r"(?:smoke|co|security|burglar|intruder) (?:alarm|detector)s?"),
    "smart lock failure": _near(r"(?:un)?lock(?! screen)"),
    "locked out of home": _words(
        r"locked out", r"can'?t get (?:in|into|inside|home)", r"cannot get (?:in|into|inside|home)"
    ),
    "account compromised": _words(
        r"hack\w*",
        r"compromised",
        r"unauthori[sz]ed",
        r"someone (?:else )?(?:logged|accessed|is using|changed my)",
        r"strange log-?ins?",
        r"not me who",
        r"stolen (?:password|account)",
    ),
}
# Devices (slot `device_name`) whose reported problem is a safety issue even when the words above
# do not match.
SAFETY_DEVICES = _words(r"(?:smart )?locks?", r"smoke (?:alarm|detector)s?", r"co alarms?")

# System -> words naming it. The app is how customers reach every system, so it is not one.
SYSTEM_PATTERNS: dict[str, re.Pattern[str]] = {
    "billing": _words(
        r"bill\w*",
        r"invoice\w*",
        r"refund\w*",
        r"payment\w*",
        r"paid",
        r"subscription\w*",
        r"overcharged",
        r"charged (?:twice|me)",
        r"direct debit",
        r"credit card",
    ),
    "devices": _words(
        r"thermostat\w*",
        r"doorbell\w*",
        r"cameras?",
        r"smart locks?",
        r"hub",
        r"motion sensors?",
        r"sensors?",
        r"smoke alarms?",
        r"smart plugs?",
        r"plugs?",
        r"devices?",
    ),
    "account": _words(
        r"account", r"password", r"log ?in", r"sign ?in", r"email address", r"2fa", r"two-factor"
    ),
    "order": _words(
        r"order\w*", r"deliver\w*", r"shipping", r"shipped", r"parcel", r"package", r"tracking"
    ),
}
TOPIC_SYSTEM = {
    "billing": "billing",
    "technical": "devices",
    "account": "account",
    "order": "order",
}

HOW_TO = _words(r"how (?:do|can|could|would|should) (?:i|we|you)", r"how to", r"is it possible to")
PRAISE = _words(r"love\w*", r"amazing", r"brilliant", r"awesome", r"fantastic", r"thank you")
PROBLEM = re.compile(rf"\b{_FAILURE}\b|\b(?:problem|issue|wrong)\b", re.IGNORECASE)


# --- Model ---------------------------------------------------------------------------------------


class Priority(IntEnum):
    """Lower value = more urgent."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4

    @property
    def first_response_minutes(self) -> int:
        return FIRST_RESPONSE_MINUTES[self.name]


class Mode(str, Enum):
    SYNC = "sync"  # an agent answers live while the customer waits
    ASYNC = "async"  # the customer may leave; the answer arrives in the same conversation


class Team(str, Enum):
    BILLING = "billing"
    DEVICES = "devices"
    ACCOUNTS = "accounts"
    ORDERS = "orders"
    CARE = "care"


SYSTEM_TEAM = {
    "billing": Team.BILLING,
    "devices": Team.DEVICES,
    "account": Team.ACCOUNTS,
    "order": Team.ORDERS,
}
TOPIC_TEAM = {topic: SYSTEM_TEAM[system] for topic, system in TOPIC_SYSTEM.items()}


@dataclass(frozen=True)
class TriageFacts:
    """What the bot knows when it hands over."""

    topic: str | None = None
    description: str = ""
    mode_preference: str | None = None
    frustration_score: float = 0.0
    frustration_signals: Sequence[str] = ()
    escalation_reason: str | None = None
    latest_intent: str | None = None
    device_name: str | None = None


@dataclass(frozen=True)
class HandoffDecision:
    """The policy's answer; `reasons` are sentences shown to the agent."""

    priority: Priority
    mode: Mode
    team: Team
    tags: tuple[str, ...]
    first_response_minutes: int
    reasons: list[str] = field(default_factory=list)


# --- Policy --------------------------------------------------------------------------------------


def _safety_issue(facts: TriageFacts) -> tuple[str, str] | None:
    """The safety issue's label and the customer's words that show it."""
    for label, pattern in SAFETY_PATTERNS.items():
        if match := pattern.search(facts.description):
            return label, match.group(0)
    device = facts.device_name or ""
    if SAFETY_DEVICES.search(device) and (match := PROBLEM.search(facts.description)):
        return f"{device.lower()} problem", match.group(0)
    return None


def _systems(facts: TriageFacts) -> list[str]:
    found = {name for name, pattern in SYSTEM_PATTERNS.items() if pattern.search(facts.description)}
    if facts.topic in TOPIC_SYSTEM:
        found.add(TOPIC_SYSTEM[facts.topic])
    if facts.device_name:
        found.add("devices")
    return sorted(found)


def _simple_kind(facts: TriageFacts) -> str | None:
    """'how-to' or 'praise' when the customer asks or praises without describing a problem."""
    if PROBLEM.search(facts.description):
        return None
    intent = (facts.latest_intent or "").split("/")[0]
    if intent in PRAISE_INTENTS or PRAISE.search(facts.description):
        return "praise"
    if intent in HOW_TO_INTENTS or HOW_TO.search(facts.description):
        return "how-to"
    return None


def _team(facts: TriageFacts, safety: str | None, simple: str | None, systems: list[str]) -> Team:
    if safety == "account compromised":
        return Team.ACCOUNTS
    if safety:
        return Team.DEVICES
    if simple == "praise":
        return Team.CARE
    if facts.topic in TOPIC_TEAM:
        return TOPIC_TEAM[facts.topic]
    if facts.topic in ("complaint", "other") or len(systems) != 1:
        return Team.CARE
    return SYSTEM_TEAM[systems[0]]


def _signals_text(signals: Sequence[str]) -> str:
    return f" ({', '.join(signals)})" if signals else ""


def decide(facts: TriageFacts) -> HandoffDecision:
    """Apply the policy to the facts; the most urgent rule that fires sets the priority."""
    candidates: list[Priority] = []
    reasons: list[str] = []
    tags: list[str] = [facts.topic] if facts.topic else []
    if facts.device_name:
        tags.append(facts.device_name.lower())

    safety = _safety_issue(facts)
    if safety:
        candidates.append(Priority.URGENT)
        tags.append("safety")
        reasons.append(f"safety issue: {safety[0]} ('{safety[1]}') → urgent priority")

    frustrated_score = facts.frustration_score >= FRUSTRATION_HIGH
    if frustrated_score or facts.escalation_reason == "frustration":
        candidates.append(Priority.HIGH)
        tags.append("frustrated")
        signals = _signals_text(facts.frustration_signals)
        if frustrated_score:
            reasons.append(
                f"frustration {facts.frustration_score:.2f}{signals} ≥ {FRUSTRATION_HIGH}"
                " → high priority"
            )
        else:
            reasons.append(
                f"escalated for frustration (score {facts.frustration_score:.2f}{signals})"
                " → high priority"
            )

    repeats = sorted(REPEAT_CONTACT_SIGNALS.intersection(facts.frustration_signals))
    if repeats:
        candidates.append(Priority.HIGH)
        tags.append("repeat-contact")
        reasons.append(f"repeat contact ({', '.join(repeats)}) → high priority")

    systems = _systems(facts)
    if len(systems) >= MULTI_SYSTEM_MIN:
        candidates.append(Priority.HIGH)
        tags.append("multi-system")
        reasons.append(f"question spans {' + '.join(systems)} → multi-system, high priority")

    simple = None if candidates else _simple_kind(facts)
    if simple:
        candidates.append(Priority.LOW)
        tags.append(simple)
        what = "simple how-to question" if simple == "how-to" else "praise for the brand"
        reasons.append(f"{what} → low priority, can be answered async")

    if not candidates:
        candidates.append(Priority.NORMAL)
        reasons.append(f"ordinary {facts.topic or 'support'} request → normal priority")

    if facts.escalation_reason:
        tags.append(facts.escalation_reason)
    priority = min(candidates)
    mode = _mode(priority, facts.mode_preference, reasons)
    reasons.append(f"first response target {priority.first_response_minutes} min")
    return HandoffDecision(
        priority=priority,
        mode=mode,
        team=_team(facts, safety[0] if safety else None, simple, systems),
        tags=tuple(dict.fromkeys(tags)),
        first_response_minutes=priority.first_response_minutes,
        reasons=reasons,
    )


def _mode(priority: Priority, preference: str | None, reasons: list[str]) -> Mode:
    policy = Mode.SYNC if priority <= Priority[SYNC_UP_TO] else Mode.ASYNC
    if preference not in (Mode.SYNC.value, Mode.ASYNC.value):
        reasons.append(f"no mode preference → {policy.value} ({priority.name.lower()} priority)")
        return policy
    chosen = Mode(preference)
    if chosen is policy:
        reasons.append(f"customer chose {chosen.value}")
    else:
        reasons.append(
            f"customer chose {chosen.value}; policy would have chosen {policy.value}"
            f" ({priority.name.lower()} priority)"
        )
    return chosen
