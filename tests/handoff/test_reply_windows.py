"""Channel windows (contracts/channel_windows.py) as the service applies them: free text refused
outside the window with the reason, Messenger's late replies tagged, the configured template
offered filled in and sent as a template; the conversation shows where its window stands.
The customer's lines carry their own (past) times; nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from contracts.channel_windows import closed_reason, window_state
from handoff.errors import Conflict, NotFound
from handoff.reply_templates import ReplyTemplateError, parse_templates
from handoff.services.canned_replies import PLACEHOLDERS
from tests.handoff import lifecycle_world
from tests.handoff.lifecycle_world import as_principal

world = lifecycle_world.world  # the fixture


def ago(**delta: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


async def owned(world, channel: str, wrote: datetime, name: str | None = "Ana Silva"):
    """An assigned conversation on `channel` whose customer last wrote at `wrote`."""
    dana = await world.queue.online_agent()
    pk = await world.queue.handoff(
        channel=channel, customer={"id": "c1", "name": name, "language": "en"}, transcript=[]
    )
    await world.conversations.claim(pk, as_principal(dana))
    await world.customer_writes(await world.queue.row(pk), "hello?", wrote)
    return dana, pk


async def test_whatsapp_after_24_hours_refuses_free_text_and_sends_the_template(world):
    wrote = ago(hours=30)
    dana, pk = await owned(world, "whatsapp", wrote)
    sent_before = len(world.delivery.sent)
    with pytest.raises(Conflict) as refused:
        await world.conversations.reply(pk, as_principal(dana), "Any news?")
    assert refused.value.code == "window_closed"
    assert "last wrote 30 hours ago" in refused.value.message
    assert "Send the template" in refused.value.message
    assert len(world.delivery.sent) == sent_before, "nothing went out"
    detail = await world.conversations.detail(pk)
    assert [m["text"] for m in detail["messages"] if m["author_type"] == "agent"] == []
    window = detail["reply_window"]
    assert (window["state"], window["template"]) == ("closed", True)
    assert window["reason"] == refused.value.message

    preview = await world.templates.preview(pk, as_principal(dana))
    assert preview["parameters"] == ["Ana", "billing"]
    assert preview["text"].startswith("Hello Ana, we have an update on your billing request.")
    line = await world.templates.send(pk, as_principal(dana))
    assert line["text"] == preview["text"] and line["delivery_status"] == "sent"
    delivered = world.delivery.sent[-1]
    assert delivered.template is not None and delivered.template.name == "agent_follow_up"
    assert delivered.template.parameters == ("Ana", "billing")


async def test_a_missing_name_uses_the_templates_fallback(world):
    dana, pk = await owned(world, "whatsapp", ago(hours=30), name=None)
    preview = await world.templates.preview(pk, as_principal(dana))
    assert preview["parameters"][0] == "there"


async def test_whatsapp_within_24_hours_takes_free_text_and_counts_down(world):
    wrote = ago(hours=23)
    dana, pk = await owned(world, "whatsapp", wrote)
    line = await world.conversations.reply(pk, as_principal(dana), "Looking at it now.")
    assert line["delivery_status"] == "sent"
    assert world.delivery.sent[-1].tag is None and world.delivery.sent[-1].template is None
    window = (await world.conversations.detail(pk))["reply_window"]
    closes = datetime.fromisoformat(window["closes_at"].replace("Z", "+00:00"))
    assert window["state"] == "open" and window["template"] is False
    assert abs(closes - (wrote + timedelta(hours=24))) < timedelta(seconds=1)


async def test_messenger_after_24_hours_tags_the_reply_and_after_7_days_refuses(world):
    dana, pk = await owned(world, "messenger", ago(days=3))
    await world.conversations.reply(pk, as_principal(dana), "Still on it.")
    assert world.delivery.sent[-1].tag == "HUMAN_AGENT"
    window = (await world.conversations.detail(pk))["reply_window"]
    assert (window["state"], window["tag"], window["template"]) == ("tagged", "HUMAN_AGENT", False)

    kim, late = await owned(world, "messenger", ago(days=8))
    with pytest.raises(Conflict, match="reply for 7 days only"):
        await world.conversations.reply(late, as_principal(kim), "Hello again")
    with pytest.raises(NotFound):
        await world.templates.preview(late, as_principal(kim))


async def test_web_chat_is_always_open_and_has_no_template(world):
    dana, pk = await owned(world, "webchat", ago(days=20))
    assert (await world.conversations.detail(pk))["reply_window"]["state"] == "open"
    await world.conversations.reply(pk, as_principal(dana), "Hi again")
    with pytest.raises(NotFound) as none:
        await world.templates.preview(pk, as_principal(dana))
    assert none.value.code == "no_template"


def test_the_window_rules_per_channel():
    wrote = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    at = lambda hours: wrote + timedelta(hours=hours)  # noqa: E731
    assert window_state("whatsapp", wrote, at(23.9)).state == "open"
    assert window_state("whatsapp", wrote, at(24)).state == "closed"
    assert window_state("whatsapp", None, at(0)).state == "closed"
    assert window_state("messenger", wrote, at(25)).tag == "HUMAN_AGENT"
    assert window_state("messenger", wrote, at(24 * 7)).state == "closed"
    assert window_state("webchat", None, at(1000)).state == "open"
    assert closed_reason("messenger", wrote, at(24 * 9)).startswith(
        "The customer last wrote 9 days"
    )


@pytest.mark.parametrize(
    ("templates", "field"),
    [
        ({"messenger": {}}, "templates.messenger"),
        (
            {
                "whatsapp": {
                    "name": "t",
                    "language": "en",
                    "text": "Hi {nick}",
                    "parameters": ["nick"],
                }
            },
            "templates.whatsapp.parameters",
        ),
        (
            {"whatsapp": {"name": "t", "language": "en", "text": "Hi", "parameters": ["topic"]}},
            "templates.whatsapp.text",
        ),
        ({"whatsapp": {"name": "", "language": "en", "text": "Hi"}}, "templates.whatsapp.name"),
    ],
)
def test_a_wrong_template_file_names_the_field(templates, field):
    with pytest.raises(ReplyTemplateError, match=f"field '{field}'"):
        parse_templates({"version": 1, "templates": templates}, frozenset(PLACEHOLDERS))
