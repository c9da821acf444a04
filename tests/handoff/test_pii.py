"""Personal data is masked in the store, in API answers and in logs, whichever way a line came in
(intake transcript, ingested Rasa events): defence in depth behind the connectors' masking."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.pii import PiiConfigError
from handoff.app import create_app
from handoff.live import LocalBroadcaster
from handoff.models import Message
from handoff.pii import MaskingFilter
from handoff.services.sink import EventSink
from handoff.settings import Settings
from harness.handoff_data import bot_event, handoff_body, make_agent, user_event

pytestmark = pytest.mark.one_store  # masking rules: not the database

TYPED = "card 4242-4242-4242-4242, pw: Hunter2!x, NI AB 12 34 56 C"
MASKED = "card [card ending 4242], pw: [password] NI [national id]"  # the comma went with it
RAW_PARTS = ("4242-4242-4242-4242", "Hunter2!x", "AB 12 34 56 C")


def database_bytes(database_url: str) -> bytes:
    path = Path(database_url.partition(":///")[2])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_intake_transcript_lines_are_stored_and_answered_masked(
    client, sessions, database_url
):
    body = handoff_body()
    body["transcript"][0]["text"] = TYPED
    answer = await client.post(
        "/api/v1/handoffs", json=body, token="test-intake-token", headers={"Idempotency-Key": "k"}
    )
    assert answer.status == 201
    agent = await make_agent(sessions)
    detail = await client.get(f"/api/v1/conversations/{answer.body['id']}", token=agent.token)
    assert detail.body["messages"][0]["text"] == MASKED
    async with sessions() as session:
        assert MASKED in (await session.scalars(select(Message.text))).all()
    if database_url.startswith("sqlite"):
        stored = database_bytes(database_url)
        assert not any(raw.encode() in stored for raw in RAW_PARTS)


async def test_ingested_lines_are_masked_and_match_the_intake_copy(client, sessions, database_url):
    body = handoff_body()
    body["transcript"][0]["text"] = TYPED
    body["transcript"][1]["text"] = f"You wrote: {TYPED}"  # a bot line repeating it
    answer = await client.post(
        "/api/v1/handoffs", json=body, token="test-intake-token", headers={"Idempotency-Key": "k"}
    )
    assert answer.status == 201
    sender, customer, bot = body["conversation_id"], *body["transcript"]
    at = {
        line["text"]: datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
        for line in body["transcript"]
    }
    await EventSink(sessions, LocalBroadcaster()).store(
        [
            user_event(sender, TYPED, at[TYPED].timestamp(), customer["message_id"]),
            bot_event(sender, bot["text"], at[bot["text"]].timestamp()),
            user_event(sender, f"and {TYPED}", time.time()),
        ]
    )
    async with sessions() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.created_at))).all()
    assert texts == [MASKED, f"You wrote: {MASKED}", f"and {MASKED}"]  # each line once
    if database_url.startswith("sqlite"):
        stored = database_bytes(database_url)
        assert not any(raw.encode() in stored for raw in RAW_PARTS)


def test_log_messages_are_masked() -> None:
    record = logging.LogRecord("handoff", logging.ERROR, __file__, 1, "bad line %r", (TYPED,), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == f"bad line {MASKED!r}"


def test_a_broken_rules_file_stops_the_service_at_start(tmp_path: Path, settings: Settings):
    broken = tmp_path / "pii.yml"
    broken.write_text("rules:\n  - name: pw\n    kind: phrase\n    mask: '[pw]'\n")
    with pytest.raises(PiiConfigError, match="rule 'pw' field 'keywords'"):
        create_app(dataclasses.replace(settings, pii_rules_path=str(broken)))
