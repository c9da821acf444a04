"""`POST /webhooks/whatsapp/deliver`: agent lines inside and outside the 24-hour window."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered

from connectors.whatsapp import WhatsAppInput
from tests.connectors import serving
from tests.connectors.test_whatsapp_channel import WA_ID, Bench, fixture_bytes, mount, settings
from tools.simulator.graph_api import RATE_LIMITED, UNDELIVERABLE, GraphApiStandIn

DELIVER_TOKEN = "deliver-secret"
HOUR = 3600


def line(message_id: str = "hm-1", **changes: Any) -> dict[str, Any]:
    return {
        "conversation_id": WA_ID,
        "channel": "whatsapp",
        "message_id": message_id,
        "author_type": "agent",
        "author_name": "Dana",
        "text": "Hi, I'm looking at your hub now.",
        **changes,
    }


class Desk:
    """The handoff service's side: posts lines to the deliver endpoint."""

    def __init__(self, url: str, channel: WhatsAppInput, agent: Agent, graph: GraphApiStandIn):
        self.url, self.channel, self.agent, self.graph = url, channel, agent, graph

    async def send(self, body: dict[str, Any], token: str = DELIVER_TOKEN) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}/webhooks/whatsapp/deliver",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as answer,
        ):
            return answer.status, await answer.json()

    async def customer_wrote(self, hours_ago: float) -> None:
        await self.channel.state.record_inbound(WA_ID, time.time() - hours_ago * HOUR)

    async def transcript(self) -> list[tuple[str, dict]]:
        tracker = await self.agent.tracker_store.retrieve(WA_ID)
        events = tracker.events if tracker else []
        return [(e.text, e.metadata) for e in events if isinstance(e, BotUttered)]


@pytest.fixture
def open_desk(tmp_path: Path) -> Callable[..., Any]:
    @asynccontextmanager
    async def open_desk(**credentials: Any) -> AsyncIterator[Desk]:
        async with GraphApiStandIn() as graph:
            channel = WhatsAppInput(settings(graph, tmp_path / "state.sqlite3", **credentials))
            app = mount(channel, [])
            domain = Domain.empty()
            app.ctx.agent = Agent(domain=domain, tracker_store=InMemoryTrackerStore(domain))
            async with serving(app) as url:
                yield Desk(url, channel, app.ctx.agent, graph)

    return open_desk


async def test_inside_the_window_the_line_goes_out_with_the_agents_name(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=2)
        status, body = await desk.send(line())
        assert (status, body["status"]) == (200, "sent")
        [sent] = desk.graph.sent
        assert sent["type"] == "text"
        assert sent["to"] == WA_ID
        assert sent["text"]["body"] == "Dana (Lumen Home): Hi, I'm looking at your hub now."
        assert body["channel_message_id"].startswith("wamid.")
        [(text, metadata)] = await desk.transcript()
        assert text == "Hi, I'm looking at your hub now."
        assert metadata["author_type"] == "agent"
        assert metadata["handoff_message_id"] == "hm-1"


async def test_a_system_line_goes_out_as_it_is(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=0)
        text = "You're back with our virtual assistant."
        await desk.send(line(author_type="system", author_name=None, text=text))
        assert desk.graph.sent[0]["text"]["body"] == text


async def test_the_window_opens_when_a_customer_message_arrives(open_desk) -> None:
    async with open_desk() as desk:
        bench = Bench(desk.url, desk.channel, desk.graph)
        payload = fixture_bytes("text").replace(b'"1749416383"', str(int(time.time())).encode())
        await bench.deliver(payload)
        status, _ = await desk.send(line())
        assert status == 200


async def test_free_text_outside_the_window_is_422_and_nothing_is_sent(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=30)
        status, body = await desk.send(line())
        assert status == 422
        assert body == {
            "error": "outside_service_window",
            "message": "The customer last wrote 30 hours ago; WhatsApp only allows a template "
            "after 24 hours, not free text.",
        }
        assert desk.graph.sent == []
        assert await desk.transcript() == []


async def test_a_customer_who_never_wrote_is_outside_the_window(open_desk) -> None:
    async with open_desk() as desk:
        status, body = await desk.send(line())
        assert status == 422
        assert body["message"].startswith("The customer has not written on WhatsApp yet")


async def test_the_template_the_service_asks_for_goes_with_its_parameters(open_desk) -> None:
    template = {"name": "agent_follow_up", "language": "en_US", "parameters": ["Ana", "billing"]}
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=30)
        status, body = await desk.send(line(template=template, text="Hi Ana, about billing"))
        assert (status, body["status"], body["template"]) == (200, "sent", True)
        [sent] = desk.graph.sent
        assert sent["type"] == "template"
        assert sent["template"] == {
            "name": "agent_follow_up",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "billing"},
                    ],
                }
            ],
        }


async def test_a_template_goes_with_the_answer_of_each_quick_reply_button(open_desk) -> None:
    answers = ['/csat_answer{"csat_score":5}', '/csat_answer{"csat_score":4}']
    template = {"name": "care_satisfaction", "language": "en_US", "buttons": answers}
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=30)
        status, body = await desk.send(line(template=template, text="How happy are you?"))
        assert (status, body["status"]) == (200, "sent")
        [sent] = desk.graph.sent
        assert sent["template"]["components"] == [
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": answer}],
            }
            for index, answer in enumerate(answers)
        ]
        too_many = {**template, "buttons": ["/x"] * 11}
        status, body = await desk.send(line("hm-2", template=too_many))
        assert status == 400 and "template.buttons" in body["message"]


async def test_a_template_with_a_wrong_parameter_is_refused(open_desk) -> None:
    async with open_desk() as desk:
        bad = {"name": "agent_follow_up", "language": "en_US", "parameters": [3]}
        status, body = await desk.send(line(template=bad))
        assert status == 400 and "template.parameters[0]" in body["message"]
        assert desk.graph.sent == []


async def test_a_retried_delivery_is_not_sent_twice(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=1)
        first = await desk.send(line())
        again = await desk.send(line())
        assert again == (200, {**first[1], "replayed": True})
        assert len(desk.graph.sent) == 1


async def test_metas_own_window_refusal_reaches_the_agent(open_desk) -> None:
    async with open_desk() as desk:
        desk.graph.enforce_service_window = True  # Meta's clock says otherwise
        await desk.customer_wrote(hours_ago=1)
        status, body = await desk.send(line())
        assert (status, body["error"]) == (422, "outside_service_window")
        assert "Re-engagement message" in body["message"]
        assert await desk.transcript() == []


async def test_a_permanent_graph_error_is_422_with_its_title(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=1)
        desk.graph.fail_next(UNDELIVERABLE)
        status, body = await desk.send(line())
        assert (status, body["error"]) == (422, "channel_rejected")
        assert "Message undeliverable" in body["message"]


async def test_a_lasting_rate_limit_is_502_so_the_handoff_service_retries(open_desk) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=1)
        desk.graph.fail_next(RATE_LIMITED, times=10)
        status, body = await desk.send(line())
        assert (status, body["error"]) == (502, "channel_unavailable")
        desk.graph.clear_failures()
        status, _ = await desk.send(line())
        assert status == 200


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        (line(), "wrong", 401),
        (line(channel="messenger"), DELIVER_TOKEN, 422),  # wrong_channel, as every channel
        (line(text=""), DELIVER_TOKEN, 400),
    ],
    ids=["wrong-token", "other-channel", "empty-text"],
)
async def test_refused_requests_send_nothing(open_desk, body, token, status) -> None:
    async with open_desk() as desk:
        await desk.customer_wrote(hours_ago=1)
        answer_status, answer = await desk.send(body, token=token)
        assert answer_status == status
        assert answer["message"]
        assert desk.graph.sent == []


async def test_without_our_own_record_the_trackers_last_user_message_counts(open_desk) -> None:
    async with open_desk() as desk:
        tracker = await desk.agent.tracker_store.get_or_create_tracker(WA_ID)
        tracker.update(
            UserUttered("hello", timestamp=time.time() - 2 * HOUR, input_channel="whatsapp")
        )
        await desk.agent.tracker_store.save(tracker)
        status, _ = await desk.send(line())
        assert status == 200


async def test_an_intent_triggered_through_rasas_api_is_not_the_customer_writing(
    open_desk,
) -> None:
    """Return to bot triggers `handoff_ended` through Rasa's API: a user event with the latest
    input channel (whatsapp) but `is_external`; it must not reopen the 24-hour window."""
    async with open_desk() as desk:
        tracker = await desk.agent.tracker_store.get_or_create_tracker(WA_ID)
        tracker.update(
            UserUttered("hello", timestamp=time.time() - 30 * HOUR, input_channel="whatsapp")
        )
        external = UserUttered.create_external("handoff_ended", input_channel="whatsapp")
        external.timestamp = time.time() - 60
        tracker.update(external)
        await desk.agent.tracker_store.save(tracker)
        status, answer = await desk.send(line())
        assert (status, answer["error"]) == (422, "outside_service_window")
        assert desk.graph.sent == []
