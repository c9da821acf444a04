"""The cross-process messages check what they receive and write what they send."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from contracts.activity import CustomerActivity
from contracts.delivery import MAX_REPORTS, DeliverRequest, StatusReport
from contracts.errors import ContractError
from contracts.survey import answer_payload
from contracts.transcript import Attachment, Reaction, SystemNotice
from contracts.values import channel_name, format_time, parse_time, replaced_statuses

REPORT = {
    "channel": "whatsapp",
    "conversation_id": "16505551234",
    "channel_message_id": "wamid.1",
    "status": "read",
    "at": "2026-11-23T10:05:00.000Z",
}
DELIVER = {
    "conversation_id": "c1",
    "channel": "webchat",
    "message_id": "m1",
    "author_type": "agent",
    "author_name": "Dana",
    "text": "Hello",
}


def test_times_are_utc_to_the_millisecond_both_ways() -> None:
    moment = datetime(2026, 11, 23, 10, 5, 0, 123456, tzinfo=timezone.utc)
    assert format_time(moment) == "2026-11-23T10:05:00.123Z"
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert parse_time(format_time(moment)) == moment.replace(microsecond=123000)
    assert parse_time("2026-11-23T11:05:00+01:00") == parse_time("2026-11-23T10:05:00Z")
    with pytest.raises(ValueError):
        parse_time(1e20)


def test_channel_aliases_and_status_order() -> None:
    assert [channel_name(name) for name in ("rest", "facebook", "whatsapp", None)] == [
        "webchat",
        "messenger",
        "whatsapp",
        None,
    ]
    assert replaced_statuses("read") == ("pending", "sent", "delivered")
    assert replaced_statuses("failed") == ("pending", "sent", "delivered", "read")


def test_a_status_report_goes_out_as_it_comes_in() -> None:
    report = StatusReport.from_json(REPORT)
    assert report.to_json() == {**REPORT, "error": None}
    assert StatusReport.list_from_json([REPORT, REPORT]) == [report, report]


def refusal(parse: Callable[[Any], object], body: Any) -> tuple[str, bool, str]:
    """The field, whether it was missing, and the code of `parse(body)`'s ContractError."""
    with pytest.raises(ContractError) as refused:
        parse(body)
    return refused.value.field, refused.value.missing, refused.value.code


@pytest.mark.parametrize(
    ("body", "field", "missing", "code"),
    [
        ({**REPORT, "status": None}, "status", True, "missing_field"),
        ({**REPORT, "status": "seen"}, "status", False, "invalid_status"),
        ({**REPORT, "at": 1732352760}, "at", False, "invalid_field"),
        ({**REPORT, "error": {"code": 1}}, "error", False, "invalid_field"),
        ({**REPORT, "channel_message_id": "x" * 256}, "channel_message_id", False, "invalid_field"),
        ([REPORT, {**REPORT, "at": "yesterday"}], "statuses[1].at", False, "invalid_field"),
        ([], "", False, "malformed_body"),
        ([REPORT] * (MAX_REPORTS + 1), "", False, "too_many_statuses"),
    ],
)
def test_a_bad_status_report_names_its_field(
    body: Any, field: str, missing: bool, code: str
) -> None:
    assert refusal(StatusReport.list_from_json, body) == (field, missing, code)


ACTIVITY = {
    "channel": "webchat",
    "conversation_id": "6f1c2b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f",
    "state": "typing",
    "at": "2026-11-23T10:05:00.250Z",
}


def test_a_customer_activity_goes_out_as_it_comes_in() -> None:
    assert CustomerActivity.from_json(ACTIVITY).to_json() == ACTIVITY


@pytest.mark.parametrize(
    ("body", "field", "missing", "code"),
    [
        ({**ACTIVITY, "state": None}, "state", True, "missing_field"),
        ({**ACTIVITY, "state": "idle"}, "state", False, "invalid_activity"),
        ({**ACTIVITY, "channel": "rest"}, "channel", False, "invalid_channel"),
        ({**ACTIVITY, "at": "now"}, "at", False, "invalid_field"),
        ([ACTIVITY], "", False, "malformed_body"),
    ],
)
def test_a_bad_customer_activity_names_its_field(
    body: Any, field: str, missing: bool, code: str
) -> None:
    assert refusal(CustomerActivity.from_json, body) == (field, missing, code)


def test_a_deliver_request_goes_out_as_it_comes_in() -> None:
    request = DeliverRequest.from_json(DELIVER)
    assert request.to_json() == DELIVER
    with pytest.raises(ContractError, match="author_type"):
        DeliverRequest.from_json({**DELIVER, "author_type": "customer"})
    with pytest.raises(ContractError) as blank:
        DeliverRequest.from_json({**DELIVER, "text": "  "})
    assert (blank.value.field, blank.value.missing) == ("text", True)


def test_a_deliver_request_carries_the_window_tag_and_template() -> None:
    template = {"name": "agent_follow_up", "language": "en_US", "parameters": ["Ana", "billing"]}
    with_buttons = {**template, "parameters": [], "buttons": [answer_payload(5)]}
    for extra in ({"tag": "HUMAN_AGENT"}, {"template": template}, {"template": with_buttons}):
        assert DeliverRequest.from_json({**DELIVER, **extra}).to_json() == {**DELIVER, **extra}
    with pytest.raises(ContractError, match="tag"):
        DeliverRequest.from_json({**DELIVER, "tag": "ACCOUNT_UPDATE"})
    with pytest.raises(ContractError, match=r"template\.parameters"):
        DeliverRequest.from_json({**DELIVER, "template": {**template, "parameters": "Ana"}})


def test_attachments_in_every_shape_the_connectors_write() -> None:
    card = {
        "kind": "contact",
        "contact": {"name": "Sam", "phones": ["+4915112345678"], "emails": ["s@example.org"]},
    }
    parsed = Attachment.list_from_json([card, {"kind": "location", "latitude": 1, "longitude": 2}])
    assert parsed[0].contact is not None and parsed[0].contact.phones == ("+4915112345678",)
    assert parsed[1].to_json()["latitude"] == 1.0 and parsed[1].to_json()["caption"] is None
    legacy = Attachment.list_from_json(
        ["https://example.org/a.pdf", {"type": "fallback", "url": "https://x", "title": "Lumen"}]
    )
    assert [(a.kind, a.url, a.name) for a in legacy] == [
        ("link", "https://example.org/a.pdf", None),
        ("link", "https://x", "Lumen"),
    ]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([{"kind": "hologram"}], "[0].kind"),
        ([{"kind": "image"}, {"kind": "location", "latitude": 91}], "[1].latitude"),
        ([{"kind": "contact", "contact": {"phones": []}}], "[0].contact.name"),
        ([{"kind": "image", "caption": "a\x00b"}], "[0].caption"),
        ([{"kind": "image", "latitude": True}], "[0].latitude"),
        ([{"kind": "image"}] * 51, ""),
        ({"kind": "image"}, ""),
    ],
)
def test_an_attachment_that_does_not_fit_names_its_field(value: Any, field: str) -> None:
    with pytest.raises(ContractError) as refused:
        Attachment.list_from_json(value)
    assert refused.value.field == field


def test_reactions_and_notices() -> None:
    assert Reaction.from_json({"message_id": "wamid.1", "emoji": None}) == Reaction("wamid.1", "")
    assert SystemNotice.from_json({"kind": "deleted", "text": "Deleted."}).to_json() == {
        "kind": "deleted",
        "text": "Deleted.",
    }
    with pytest.raises(ContractError, match="message_id"):
        Reaction.from_json({"emoji": "👍"})


def test_a_survey_button_answers_with_its_score_in_rasas_intent_syntax() -> None:
    assert answer_payload(4) == '/csat_answer{"csat_score":4}'
