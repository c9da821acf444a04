"""The service's pydantic shapes and its OpenAPI document hold to the contracts (contracts/):
the same fields, the same enumerations, for every message that crosses a process boundary."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from contracts.activity import ACTIVITY_STATES, CustomerActivity
from contracts.delivery import StatusReport
from contracts.intake import MODES, IntakeRequest
from contracts.transcript import (
    ATTACHMENT_KINDS,
    LINE_FIELDS,
    Attachment,
    Contact,
    Reaction,
    SystemNotice,
)
from contracts.values import (
    AUTHOR_TYPES,
    BOT_EVENT_AUTHORS,
    CHANNELS,
    DELIVERY_PROGRESS,
    REPORTED_STATUSES,
)
from handoff.ingest.mapping import BotMetadata, TranscriptLine
from handoff.services.intake import HandoffBody
from handoff.shapes import AuthorType

SPEC = yaml.safe_load((Path(__file__).parents[2] / "handoff" / "openapi.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]
NOT_KEPT = {"entities", "payload", "buttons"}  # the bot uses them; the store has no place


def names(contract: Any) -> set[str]:
    return {item.name for item in fields(contract)}


def literal(annotation: Any) -> tuple[str, ...]:
    """The strings of a `Literal[...]`, also inside `Literal[...] | None`."""
    found: list[str] = []
    for arg in get_args(annotation):
        found.extend([arg] if isinstance(arg, str) else literal(arg))
    return tuple(found)


def test_the_intake_body_is_the_contracts_request() -> None:
    assert set(HandoffBody.model_fields) == names(IntakeRequest)
    assert set(SCHEMAS["HandoffRequest"]["properties"]) == names(IntakeRequest)
    assert literal(HandoffBody.model_fields["mode"].annotation) == MODES
    assert tuple(SCHEMAS["HandoffRequest"]["properties"]["mode"]["enum"]) == MODES


def test_a_transcript_line_has_the_contracts_fields() -> None:
    line = SCHEMAS["HandoffRequest"]["properties"]["transcript"]["items"]["properties"]
    assert set(TranscriptLine.model_fields) == set(LINE_FIELDS) - NOT_KEPT
    assert set(line) == set(LINE_FIELDS) - NOT_KEPT
    assert literal(AuthorType) == AUTHOR_TYPES
    assert tuple(line["author_type"]["enum"]) == (*AUTHOR_TYPES, None)
    assert literal(BotMetadata.model_fields["author_type"].annotation) == BOT_EVENT_AUTHORS


@pytest.mark.parametrize(
    ("schema", "contract"),
    [
        ("Attachment", Attachment),
        ("Reaction", Reaction),
        ("SystemNotice", SystemNotice),
        ("DeliveryStatus", StatusReport),
        ("CustomerActivity", CustomerActivity),
    ],
)
def test_documented_objects_are_the_contracts(schema: str, contract: Any) -> None:
    assert set(SCHEMAS[schema]["properties"]) == names(contract)


def test_documented_enumerations_are_the_contracts() -> None:
    attachment = SCHEMAS["Attachment"]["properties"]
    assert tuple(attachment["kind"]["enum"]) == ATTACHMENT_KINDS
    assert set(attachment["contact"]["properties"]) == names(Contact)
    assert tuple(SCHEMAS["DeliveryStatus"]["properties"]["status"]["enum"]) == REPORTED_STATUSES
    message = SCHEMAS["Message"]["properties"]
    assert tuple(message["author_type"]["enum"]) == AUTHOR_TYPES
    assert tuple(message["delivery_status"]["enum"]) == (*DELIVERY_PROGRESS, None)
    activity = SCHEMAS["CustomerActivity"]["properties"]
    assert tuple(activity["state"]["enum"]) == ACTIVITY_STATES
    assert tuple(activity["channel"]["enum"]) == CHANNELS
    assert tuple(SCHEMAS["CustomerActivityState"]["properties"]["state"]["enum"]) == ACTIVITY_STATES
