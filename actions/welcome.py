"""Session start and welcome messages, driven by the designers' rules in bot/welcome.yml.

Both actions take an injectable clock and rules path (rasa_sdk builds them without arguments,
so the defaults are the real UTC clock and env WELCOME_RULES_PATH / bot/welcome.yml, read at
run time and cached by file modification time).
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.transcript import current_session
from actions.welcome_rules import (
    WelcomeConfig,
    WelcomeMessage,
    WelcomeRulesError,
    load_welcome_config_cached,
    rules_path,
)
from contracts.values import channel_name

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

SESSION_METADATA_SLOT = "session_started_metadata"
HANDOFF_SLOT = "handoff_active"
WELCOME_LOG_SLOT = "welcome_log"
LANGUAGE_SLOT = "language"
TOPIC_SLOT = "topic"
# A form's progress dies with the session (SessionStarted clears the active loop), so its
# `requested_slot` must not be carried into the next one.
NOT_CARRIED_OVER = frozenset({"requested_slot"})
# Channels whose widgets render URL buttons; elsewhere the link is a line of text.
URL_BUTTON_CHANNELS = frozenset({"webchat", "messenger"})
DEFAULT_CHANNEL = "webchat"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Audience:
    """Who the welcome is for, from session metadata, slots and the input channel."""

    channel: str
    language: str
    queue: str | None
    last_sent: dict[str, datetime]


class _WelcomeAction(Action, ABC):
    """Shared by the actions that greet: loads the rules, picks and sends the welcome."""

    def __init__(self, clock: Clock = utc_now, rules: str | Path | None = None) -> None:
        self._clock = clock
        self._rules = rules

    @abstractmethod
    def name(self) -> str: ...

    def _config(self) -> WelcomeConfig | None:
        """The rules, or None (logged) if the file is broken: the session must still start."""
        try:
            return load_welcome_config_cached(self._rules or rules_path())
        except WelcomeRulesError:
            logger.exception("Welcome rules unusable; no welcome message is sent")
            return None

    def _audience(self, tracker: Tracker, config: WelcomeConfig) -> _Audience:
        metadata = tracker.get_slot(SESSION_METADATA_SLOT)
        if not isinstance(metadata, dict):
            metadata = {}
        channel = metadata.get("channel") or tracker.get_latest_input_channel() or DEFAULT_CHANNEL
        return _Audience(
            channel=channel_name(channel) or DEFAULT_CHANNEL,
            language=config.language_of(
                metadata.get("language") or tracker.get_slot(LANGUAGE_SLOT)
            ),
            queue=metadata.get("queue") or tracker.get_slot(TOPIC_SLOT),
            last_sent=_parse_welcome_log(tracker.get_slot(WELCOME_LOG_SLOT)),
        )

    def _send_welcome(
        self, dispatcher: CollectingDispatcher, config: WelcomeConfig, audience: _Audience
    ) -> dict[str, Any]:
        """Send the welcome due now, if any; return the slot updates recording it ({} if none)."""
        now = self._clock()
        message = config.select(
            channel=audience.channel,
            language=audience.language,
            queue=audience.queue,
            now=now,
            last_sent=audience.last_sent,
        )
        if message is None:
            return {}
        _send(dispatcher, message, audience.channel)
        sent = {**audience.last_sent, message.rule_id: now}
        log = {rule_id: at.astimezone(timezone.utc).isoformat() for rule_id, at in sent.items()}
        return {WELCOME_LOG_SLOT: log}


class ActionSessionStart(_WelcomeAction):
    """Starts a session: carries slots over, keeps a human's pause, else welcomes.

    Rasa's `SessionStarted` resets the tracker, which also lifts a `ConversationPaused`; while an
    agent owns the conversation (`handoff_active`) the pause is restored and nothing is said.
    `session_started_metadata` is carried over too: Rasa sets it to the new session's metadata
    just before running this action, and the reset would otherwise drop it.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(HANDOFF_SLOT):
            updates, pause = {}, [ConversationPaused()]
        else:
            updates, pause = self._greet(dispatcher, tracker), []
        carried = {
            name: value
            for name, value in tracker.slots.items()
            if value is not None and name not in NOT_CARRIED_OVER
        }
        return [
            SessionStarted(),
            *(SlotSet(name, value) for name, value in {**carried, **updates}.items()),
            *pause,
            ActionExecuted("action_listen"),
        ]

    def _greet(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """Send the welcome due now, if any; return the slot values to update."""
        config = self._config()
        if config is None:
            return {}
        audience = self._audience(tracker, config)
        return {
            LANGUAGE_SLOT: audience.language,
            **self._send_welcome(dispatcher, config, audience),
        }


class ActionWelcome(_WelcomeAction):
    """Answers a greeting: the welcome if one is due, else the designers' `greet_again` text."""

    def name(self) -> str:
        return "action_welcome"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        config = self._config()
        if config is None or _welcomed_this_session(tracker):
            return []
        audience = self._audience(tracker, config)
        updates = self._send_welcome(dispatcher, config, audience)
        if not updates:
            dispatcher.utter_message(
                text=config.greeting_again(audience.language), author_type="bot"
            )
        return [SlotSet(name, value) for name, value in updates.items()]


def _welcomed_this_session(tracker: Tracker) -> bool:
    """The greeting opened this session and the session start already answered it."""
    kinds = [event.get("event") for event in current_session(tracker.events)]
    return kinds.count("user") == 1 and "bot" in kinds[: kinds.index("user")]


def _send(dispatcher: CollectingDispatcher, message: WelcomeMessage, channel: str) -> None:
    text, buttons = message.text, []
    if message.link_url:
        if channel in URL_BUTTON_CHANNELS:
            buttons = [{"title": message.link_label, "url": message.link_url, "type": "web_url"}]
        else:
            text = f"{text}\n\n{message.link_label}: {message.link_url}"
    dispatcher.utter_message(text=text, buttons=buttons, author_type="bot")


def _parse_welcome_log(raw: Any) -> dict[str, datetime]:
    """`welcome_log` slot ({rule_id: ISO-8601 UTC}) as aware datetimes; bad entries ignored."""
    if not isinstance(raw, dict):
        return {}
    parsed = {}
    for rule_id, stamp in raw.items():
        try:
            # Python 3.10's fromisoformat does not read the "Z" suffix other tools write.
            sent = datetime.fromisoformat(re.sub(r"Z$", "+00:00", stamp))
        except (TypeError, ValueError):
            logger.warning("Ignoring bad welcome_log entry %r: %r", rule_id, stamp)
            continue
        parsed[rule_id] = sent if sent.tzinfo else sent.replace(tzinfo=timezone.utc)
    return parsed
