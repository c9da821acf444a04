from collections.abc import AsyncIterator

import pytest

from connectors.whatsapp import messages
from connectors.whatsapp.client import GraphApiError, WhatsAppClient
from connectors.whatsapp.output import WhatsAppOutput
from tools.simulator.graph_api import RATE_LIMITED, UNDELIVERABLE, GraphApiStandIn

PHONE_NUMBER_ID = "106540352242922"
WA_ID = "16505551234"


@pytest.fixture
async def graph() -> AsyncIterator[GraphApiStandIn]:
    async with GraphApiStandIn() as stand_in:
        yield stand_in


def client_for(graph: GraphApiStandIn, token: str | None = None) -> WhatsAppClient:
    return WhatsAppClient(
        PHONE_NUMBER_ID,
        token or graph.access_token,
        graph_url=f"{graph.url}/v21.0",
        attempts=3,
        backoff_seconds=0.01,
    )


@pytest.fixture
def output(graph: GraphApiStandIn) -> WhatsAppOutput:
    return WhatsAppOutput(client_for(graph), bot_marker="🤖 ")


async def test_a_text_goes_to_the_phone_numbers_messages_edge_with_the_bearer_token(
    graph: GraphApiStandIn, output: WhatsAppOutput
) -> None:
    await output.send_text_message(WA_ID, "Hello!")
    [request] = graph.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {graph.access_token}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "🤖 Hello!"},
    }


async def test_the_send_returns_the_new_message_id(graph: GraphApiStandIn) -> None:
    wamid = await client_for(graph).send(messages.text_message(WA_ID, "Hi"))
    assert wamid.startswith("wamid.")


async def test_lines_rasa_sends_for_an_agent_carry_no_bot_marker(
    graph: GraphApiStandIn, output: WhatsAppOutput
) -> None:
    await output.send_text_message(WA_ID, "Dana here", author_type="agent")
    assert graph.sent[0]["text"]["body"] == "Dana here"


async def test_three_buttons_become_reply_buttons_with_titles_cut_to_20(
    graph: GraphApiStandIn, output: WhatsAppOutput
) -> None:
    buttons = [
        {"title": "Stay and chat", "payload": "/stay_and_chat"},
        {"title": "Leave a message for later please", "payload": "/go_async"},
        {"title": "Talk to a person", "payload": "/talk_to_agent"},
    ]
    await output.send_text_with_buttons(WA_ID, "How would you like to continue?", buttons)
    interactive = graph.sent[0]["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"] == {"text": "🤖 How would you like to continue?"}
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["/stay_and_chat", "/go_async", "/talk_to_agent"]
    assert replies[1]["title"] == "Leave a message for…"
    assert all(len(r["title"]) <= 20 for r in replies)


async def test_more_than_three_options_become_a_list(
    graph: GraphApiStandIn, output: WhatsAppOutput
) -> None:
    topics = [
        "Billing",
        "Orders and deliveries",
        "Device setup and pairing help",
        "Account",
        "Other",
    ]
    buttons = [{"title": t, "payload": f"/topic_{i}"} for i, t in enumerate(topics)]
    await output.send_text_with_buttons(WA_ID, "What is it about?", buttons)
    interactive = graph.sent[0]["interactive"]
    assert interactive["type"] == "list"
    [section] = interactive["action"]["sections"]
    rows = section["rows"]
    assert [r["id"] for r in rows] == [f"/topic_{i}" for i in range(5)]
    assert rows[2]["title"] == "Device setup and pairin…"
    assert rows[2]["description"] == "Device setup and pairing help"
    assert all(len(r["title"]) <= 24 for r in rows)
    assert "description" not in rows[0]


def test_a_list_keeps_at_most_ten_rows_and_long_ids_are_cut() -> None:
    options = [{"title": f"Option {i}", "payload": "/x" + "y" * 300} for i in range(12)]
    body = messages.choice_message(WA_ID, "Pick one", options)
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 10
    assert all(len(r["id"]) == 200 for r in rows)
    [button] = messages.choice_message(WA_ID, "Pick", options[:1])["interactive"]["action"][
        "buttons"
    ]
    assert len(button["reply"]["id"]) == 256


async def test_a_rate_limit_is_retried_then_the_message_goes_out(
    graph: GraphApiStandIn,
) -> None:
    graph.fail_next(RATE_LIMITED, times=2)
    wamid = await client_for(graph).send(messages.text_message(WA_ID, "Hi"))
    assert wamid.startswith("wamid.")
    assert len(graph.requests) == 3


async def test_a_rate_limit_that_lasts_gives_up_after_the_attempts(
    graph: GraphApiStandIn,
) -> None:
    graph.fail_next(RATE_LIMITED, times=5)
    with pytest.raises(GraphApiError) as caught:
        await client_for(graph).send(messages.text_message(WA_ID, "Hi"))
    assert caught.value.code == 130429
    assert caught.value.transient
    assert len(graph.requests) == 3


async def test_a_permanent_error_is_raised_at_once_with_metas_title(
    graph: GraphApiStandIn,
) -> None:
    graph.fail_next(UNDELIVERABLE)
    with pytest.raises(GraphApiError) as caught:
        await client_for(graph).send(messages.text_message(WA_ID, "Hi"))
    error = caught.value
    assert (error.http_status, error.code, error.title) == (400, 131026, "Message undeliverable")
    assert not error.transient
    assert "131026" in str(error) and "Message undeliverable" in str(error)
    assert len(graph.requests) == 1


async def test_a_wrong_access_token_is_a_permanent_error(graph: GraphApiStandIn) -> None:
    with pytest.raises(GraphApiError) as caught:
        await client_for(graph, token="stale").send(messages.text_message(WA_ID, "Hi"))
    assert (caught.value.code, caught.value.transient) == (190, False)


async def test_an_unreachable_graph_api_is_transient() -> None:
    async with GraphApiStandIn() as graph:
        url = graph.url
    client = WhatsAppClient(PHONE_NUMBER_ID, "t", graph_url=url, attempts=2, backoff_seconds=0)
    with pytest.raises(GraphApiError) as caught:
        await client.send(messages.text_message(WA_ID, "Hi"))
    assert caught.value.transient


async def test_the_output_channel_logs_a_refused_message_instead_of_failing_the_turn(
    graph: GraphApiStandIn, output: WhatsAppOutput, caplog: pytest.LogCaptureFixture
) -> None:
    graph.fail_next(UNDELIVERABLE)
    await output.send_text_message(WA_ID, "Hello")
    assert "Message undeliverable" in caplog.text
