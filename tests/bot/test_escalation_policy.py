"""When the escalation policy hands off, and what it records on every turn."""

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bot.components.escalation_policy import EscalationPolicy
from bot.frustration import score_message

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "bot/domain")


def make_policy(tmp_path: Path, **overrides: Any) -> EscalationPolicy:
    config = {**EscalationPolicy.get_default_config(), **overrides}
    return EscalationPolicy.create(
        config,
        LocalModelStorage(tmp_path),
        Resource("escalation"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def said(text: str, intent: str = "inform", confidence: float = 0.95) -> list[Event]:
    """A user turn as the NLU pipeline (FrustrationDetector included) leaves it."""
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "frustration": score_message(text).as_dict(),
    }
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, parse_data["intent"], [], parse_data),
    ]


def tracker_of(
    domain: Domain, *turns: list[Event], extra: list[Event] = ()
) -> DialogueStateTracker:
    events = [event for turn in turns for event in turn] + list(extra)
    return DialogueStateTracker.from_events("customer-1", events, domain.slots)


def handoff_reason(policy: EscalationPolicy, tracker: DialogueStateTracker, domain: Domain):
    prediction = policy.predict_action_probabilities(tracker, domain)
    best = domain.action_names_or_texts[prediction.max_confidence_index]
    if best != "action_handoff":
        return None, prediction
    (reason_event,) = prediction.optional_events
    return reason_event.value, prediction


def test_an_explicit_request_for_a_person_hands_off_at_once(tmp_path, domain) -> None:
    tracker = tracker_of(domain, said("can I talk to a human please", "request_human"))
    reason, prediction = handoff_reason(make_policy(tmp_path), tracker, domain)
    assert reason == "human_request"
    assert prediction.is_no_user_prediction  # wins over an active form's happy path


def test_a_calm_message_continues_with_the_bot_but_its_score_is_recorded(tmp_path, domain) -> None:
    text = "my thermostat is offline since this morning"
    reason, prediction = handoff_reason(
        make_policy(tmp_path), tracker_of(domain, said(text)), domain
    )
    assert reason is None
    assert prediction.events == [SlotSet("frustration", score_message(text).as_dict())]
    assert prediction.events[0].value["score"] < 0.5


@pytest.mark.parametrize(
    "first_message",
    [
        "you're a bunch of liars, the parcel was never sent",
        "that's it, you've lost me as a customer",
        "this f***ing hub again",
        "five emails, five different answers, and nobody responds",
    ],
)
def test_a_strongly_frustrated_first_message_hands_off_at_once(
    tmp_path, domain, first_message
) -> None:
    tracker = tracker_of(domain, said(first_message, "complaint"))
    reason, prediction = handoff_reason(make_policy(tmp_path), tracker, domain)
    assert reason == "frustration"
    assert prediction.events[0].value["signals"]  # the agent sees why


def test_frustration_over_the_threshold_hands_off(tmp_path, domain) -> None:
    angry = "THIS IS THE THIRD TIME I ASK, your app is useless!!!"
    reason, prediction = handoff_reason(
        make_policy(tmp_path), tracker_of(domain, said(angry)), domain
    )
    assert reason == "frustration"
    (slot,) = prediction.events
    assert slot.value["score"] >= 0.7 and "shouting" in slot.value["signals"]


def test_the_threshold_is_tunable(tmp_path, domain) -> None:
    text = "hmm, the app logged me out again"
    score = score_message(text).score
    assert 0.05 < score < 0.95
    tracker = tracker_of(domain, said(text))
    lenient = make_policy(tmp_path, frustration_threshold=round(score + 0.01, 3))
    assert handoff_reason(lenient, tracker, domain)[0] is None
    strict = make_policy(tmp_path, frustration_threshold=score)
    assert handoff_reason(strict, tracker, domain)[0] == "frustration"


def test_the_same_message_repeated_adds_to_frustration(tmp_path, domain) -> None:
    tracker = tracker_of(
        domain,
        said("where is my parcel, it's late"),
        said("where is my parcel, it's late"),
    )
    _, prediction = handoff_reason(make_policy(tmp_path), tracker, domain)
    assert "repeated_message" in prediction.events[0].value["signals"]


def test_two_fallbacks_in_a_row_hand_off_but_one_does_not(tmp_path, domain) -> None:
    policy = make_policy(tmp_path)
    one = tracker_of(domain, said("blorp the flux", "nlu_fallback", 0.2))
    assert handoff_reason(policy, one, domain)[0] is None
    two = tracker_of(
        domain, said("blorp the flux", "nlu_fallback", 0.2), said("zzz qq", "nlu_fallback", 0.1)
    )
    assert handoff_reason(policy, two, domain)[0] == "fallbacks"


def test_a_low_confidence_turn_counts_like_a_fallback(tmp_path, domain) -> None:
    tracker = tracker_of(
        domain,
        said("hmm maybe the thing", "inform", 0.45),
        said("erm the other one", "inform", 0.3),
    )
    assert handoff_reason(make_policy(tmp_path), tracker, domain)[0] == "fallbacks"


@pytest.mark.parametrize(
    ("topic", "next_action"), [("billing", "action_handoff"), ("other", "utter_triage_recorded")]
)
def test_completed_triage_hands_off_only_for_topics_that_need_a_person(
    tmp_path, domain, topic, next_action
) -> None:
    form_done = [SlotSet("topic", topic), ActionExecuted("triage_form"), ActiveLoop(None)]
    tracker = tracker_of(domain, said("I was charged twice", "billing_problem"), extra=form_done)
    prediction = make_policy(tmp_path).predict_action_probabilities(tracker, domain)
    assert prediction.max_confidence == 1.0
    assert domain.action_names_or_texts[prediction.max_confidence_index] == next_action


def test_no_second_handoff_while_a_person_owns_the_conversation(tmp_path, domain) -> None:
    tracker = tracker_of(
        domain, said("agent please", "request_human"), extra=[SlotSet("handoff_active", True)]
    )
    assert handoff_reason(make_policy(tmp_path), tracker, domain)[0] is None


@pytest.mark.parametrize(
    "overrides",
    [{"frustration_threshold": 1.5}, {"max_fallbacks": 0}, {"low_confidence_threshold": -1}],
)
def test_bad_settings_are_refused_with_the_setting_named(tmp_path, overrides) -> None:
    with pytest.raises(InvalidConfigException, match=next(iter(overrides))):
        make_policy(tmp_path, **overrides)


def test_an_agent_handing_back_is_not_the_customer_and_never_hands_off_again(
    tmp_path, domain
) -> None:
    """Return to bot triggers `EXTERNAL: handoff_ended` through Rasa's API: the upper-case
    prefix once read as shouting and handed the customer straight back to the queue."""
    angry = "THIS IS THE THIRD TIME I ASK, your app is useless!!!"
    tracker = tracker_of(domain, said(angry), said("EXTERNAL: handoff_ended", "handoff_ended", 1.0))
    reason, _ = handoff_reason(make_policy(tmp_path), tracker, domain)
    assert reason is None


def test_answers_to_the_survey_never_hand_off_but_a_request_for_a_person_does(
    tmp_path, domain
) -> None:
    """A blunt comment or two bare scores read as fallbacks are survey answers, not escalations."""
    policy = make_policy(tmp_path, quiet_forms=["csat_form"])
    survey = [ActiveLoop("csat_form")]
    fallbacks = tracker_of(
        domain, said("2", "nlu_fallback", 0.3), extra=survey + said("3", "nlu_fallback", 0.3)
    )
    angry = "terrible, useless, it took three days and you still charged me twice!!"
    blunt = tracker_of(domain, extra=survey + said(angry))
    person = tracker_of(domain, extra=survey + said("let me talk to a person", "request_human"))
    assert handoff_reason(policy, fallbacks, domain)[0] is None
    assert handoff_reason(policy, blunt, domain)[0] is None
    assert handoff_reason(policy, person, domain)[0] == "human_request"
    assert handoff_reason(make_policy(tmp_path), blunt, domain)[0] == "frustration"
