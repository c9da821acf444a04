"""The bot's transcript (sent at handoff) and the service's ingest of the event stream give the
same lines with the same dedupe keys for the same Rasa events: one contract, two processes."""

from __future__ import annotations

import dataclasses

from actions.transcript import build_transcript
from handoff.ingest.mapping import FrustrationReading, map_event
from handoff.lines import Line
from handoff.services.intake import parse_handoff
from harness.handoff_data import handoff_body
from tests.contracts.rasa_events import SENDER, conversation


def through_the_bot() -> list[Line]:
    body = handoff_body(SENDER, transcript=build_transcript(conversation()))
    return parse_handoff(body).transcript


def through_the_ingest() -> list[Line]:
    """What the sink stores: lines, with a frustration reading merged into the latest one."""
    lines: list[Line] = []
    for event in conversation():
        item = map_event({"sender_id": SENDER, **event})
        if isinstance(item, Line):
            lines.append(item)
        elif isinstance(item, FrustrationReading) and lines:
            merged = item.frustration.merge(lines[-1].frustration)
            lines[-1] = dataclasses.replace(lines[-1], frustration=merged)
    return lines


def test_both_ways_give_the_same_lines_and_keys() -> None:
    from_bot, from_ingest = through_the_bot(), through_the_ingest()

    assert from_bot == from_ingest
    assert len({line.dedupe_key for line in from_bot}) == len(from_bot)


def test_what_the_agent_reads() -> None:
    lines = through_the_bot()

    assert [(line.author_type, line.text) for line in lines] == [
        ("customer", "my lock is broken, card [card ending 1111]"),
        ("bot", "Sorry to hear that. Can you send a photo?"),
        ("customer", ""),
        ("customer", ""),
        ("customer", ""),
        ("agent", "Hi, Dana here."),
        ("customer", "👍"),
        ("system", "Message deleted."),
        ("customer", "/affirm"),
    ]
    first, photo, _, places, agent, reaction, notice, _ = (lines[0], *lines[2:])
    assert first.frustration is not None and first.frustration.score == 0.7
    assert photo.attachments[0]["caption"] == "the lock, see?"
    assert [a["kind"] for a in places.attachments] == ["location", "contact"]
    assert places.attachments[1]["contact"]["phones"] == ["+4915112345678"]
    assert (agent.dedupe_key, agent.author_name) == ("handoff:h-1", "Dana")
    assert reaction.reaction_to == "wamid.out.1"
    assert (notice.notice_kind, notice.dedupe_key) == ("deleted", "user:wamid.6")
