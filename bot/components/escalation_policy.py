"""Rasa policy that decides when a person must take over.

It hands off (predicts the handoff action) on:
- an explicit request for a human (`human_request_intents`),
- frustration at or over `frustration_threshold`: the message's own calibrated score (from the
  FrustrationDetector: the probability a person would call it frustrated, so one strong signal,
  e.g. an accusation, is enough) shifted by the conversation signals (the same message repeated,
  fallbacks in a row), whose weights the same classifier learnt (`bot.frustration`),
- `max_fallbacks` fallback or low-confidence turns in a row,
- a completed triage form whose topic is in `handoff_topics`; after the triage of any other
  topic it predicts `self_service_action` instead, so all "after triage" decisions live here.
While a form of `quiet_forms` runs (the satisfaction survey), only a request for a person hands off.

Every user turn it also sets the `frustration` slot to the combined score and signals, so the
transcript line and the agent see them. Its escalations are marked as "no user" predictions,
like a form's own happy path, so that an explicit request for a person wins even while the
triage form is active (RulePolicy predicts the active form with that mark; our priority is higher).
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, EXTERNAL_MESSAGE_PREFIX
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bot.frustration import FrustrationResult, score_conversation, score_message

FALLBACK_INTENT = "nlu_fallback"
PREVIOUS_MESSAGES_COMPARED = 10


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class EscalationPolicy(Policy):
    """Predicts the handoff action when the customer needs a person (see module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "priority": 7,
            "handoff_action": "action_handoff",
            "human_request_intents": ["request_human"],
            "frustration_threshold": 0.5,
            "max_fallbacks": 2,
            "low_confidence_threshold": 0.5,
            "triage_form": "triage_form",
            "handoff_topics": ["billing", "technical", "account", "order", "complaint"],
            "self_service_action": "utter_triage_recorded",
            # Forms whose answers are no reason for a handoff (a blunt survey comment, a bare
            # "4" read as a fallback): only a request for a person escalates while they run.
            "quiet_forms": [],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        for key in ("frustration_threshold", "low_confidence_threshold"):
            if not 0.0 <= float(config[key]) <= 1.0:
                raise InvalidConfigException(
                    f"EscalationPolicy: '{key}' must be between 0 and 1, got {config[key]!r}"
                )
        if int(config["max_fallbacks"]) < 1:
            raise InvalidConfigException(
                "EscalationPolicy: 'max_fallbacks' must be 1 or more, "
                f"got {config['max_fallbacks']!r}"
            )

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        for key in ("handoff_action", "self_service_action"):
            if self.config[key] not in domain.action_names_or_texts:
                raise InvalidConfigException(
                    f"EscalationPolicy: '{key}' {self.config[key]!r} is not an action of the domain"
                )
        with self._model_storage.write_to(self._resource):
            pass  # nothing to learn; the resource marks the policy as trained
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        events: list[SlotSet] = []
        reason: str | None = None
        latest = tracker.latest_message
        customer_turn = latest is not None and not (latest.text or "").startswith(
            EXTERNAL_MESSAGE_PREFIX  # an intent triggered through Rasa's API: not the customer
        )
        if tracker.latest_action_name == ACTION_LISTEN_NAME and customer_turn:
            frustration = self._turn_frustration(tracker)
            events.append(SlotSet("frustration", frustration.as_dict()))
            reason = self._reason_after_user_turn(tracker, frustration)
        elif self._triage_completed(tracker):
            if tracker.get_slot("topic") not in self.config["handoff_topics"]:
                return self._certain(self.config["self_service_action"], domain, events)
            reason = "triage_complete"
        if reason is None or tracker.get_slot("handoff_active"):
            return self._prediction(probabilities, events=events)
        return self._certain(
            self.config["handoff_action"], domain, events, SlotSet("escalation_reason", reason)
        )

    def _certain(
        self, action: str, domain: Domain, events: list[SlotSet], *optional: SlotSet
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(
            probabilities, events=events, optional_events=list(optional), is_no_user_prediction=True
        )

    def _user_turns(self, tracker: DialogueStateTracker) -> list[UserUttered]:
        return [e for e in tracker.applied_events() if isinstance(e, UserUttered)]

    def _is_fallback(self, message: UserUttered) -> bool:
        intent = message.intent or {}
        confidence = intent.get("confidence")
        return intent.get("name") == FALLBACK_INTENT or (
            confidence is not None and confidence < self.config["low_confidence_threshold"]
        )

    def _fallbacks_in_a_row(self, turns: list[UserUttered]) -> int:
        count = 0
        for message in reversed(turns):
            if not self._is_fallback(message):
                break
            count += 1
        return count

    def _turn_frustration(self, tracker: DialogueStateTracker) -> FrustrationResult:
        turns = self._user_turns(tracker)
        latest = tracker.latest_message
        text = latest.text or ""
        own = (latest.parse_data or {}).get("frustration")
        if own is not None:
            message = FrustrationResult(float(own["score"]), tuple(own["signals"]))
        elif text.startswith("/"):  # a button payload
            message = FrustrationResult(0.0, ())
        else:  # not parsed by the pipeline (HTTP API, Rasa's test harness): score it here
            message = score_message(text)
        previous = [t.text or "" for t in turns[:-1][-PREVIOUS_MESSAGES_COMPARED:]]
        return score_conversation(
            message,
            previous,
            text,
            self._fallbacks_in_a_row(turns),
            int(self.config["max_fallbacks"]),
        )

    def _reason_after_user_turn(
        self, tracker: DialogueStateTracker, frustration: FrustrationResult
    ) -> str | None:
        if tracker.latest_message.intent.get("name") in self.config["human_request_intents"]:
            return "human_request"
        if tracker.active_loop_name in self.config["quiet_forms"]:
            return None
        if self._fallbacks_in_a_row(self._user_turns(tracker)) >= int(self.config["max_fallbacks"]):
            return "fallbacks"  # also raises the score: the more specific reason is named
        if frustration.score >= float(self.config["frustration_threshold"]):
            return "frustration"
        return None

    def _triage_completed(self, tracker: DialogueStateTracker) -> bool:
        return (
            tracker.latest_action_name == self.config["triage_form"]
            and tracker.active_loop_name is None
        )
