"""Secure form links: sent through the connector like a reply, one-time and expiring, answers
stored encrypted, shown only to the assigned agent, never in the transcript or the channel."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update

from handoff.app import create_app
from handoff.models import Message, SecureForm, utc_now
from handoff.roles import Role
from handoff.services.secure_forms import Sealer, token_hash
from handoff.settings import Settings, SettingsError
from harness.handoff_data import make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.servers import FakeServer, fake_server

pytestmark = pytest.mark.one_store  # sealing, links and who may see the answers: not the database

PUBLIC_URL = "https://care.lumen.example"
KEY = "test-secure-form-key-0123456789abcdef"
CARD = {"card_number": "4000 0566 5566 5556", "card_expiry": "09/29", "card_name": "Robin Vale"}
SENT = (200, {"status": "sent"})


@dataclass
class Bench:
    api: ApiClient
    connector: FakeServer
    http: aiohttp.ClientSession
    base: str

    async def form_page(self, token: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        """GET the public page, or POST `data` to it as the browser's form would."""
        url = f"{self.base}/forms/{token}"
        request = self.http.post(url, data=data) if data is not None else self.http.get(url)
        async with request as answer:
            self.headers = answer.headers
            return answer.status, await answer.text()


@pytest.fixture
async def bench(settings) -> Any:
    async with AsyncExitStack() as stack:
        connector = await stack.enter_async_context(fake_server([SENT]))
        app = create_app(
            replace(
                settings, delivery_url=connector.url, public_url=PUBLIC_URL, secure_form_key=KEY
            )
        )
        base = await stack.enter_async_context(serving(app))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield Bench(ApiClient(http, base), connector, http, base)


async def owned_conversation(bench: Bench, sessions) -> tuple[Any, dict[str, Any]]:
    agent = await make_agent(sessions, name="Dana")
    conversation = await make_conversation(sessions)
    claim = await bench.api.post(
        f"/api/v1/conversations/{conversation['id']}/claim", token=agent.token
    )
    assert claim.status == 200
    return agent, conversation


async def send_form(bench: Bench, agent, conversation, **body: Any) -> tuple[dict[str, Any], str]:
    answer = await bench.api.post(
        f"/api/v1/conversations/{conversation['id']}/secure-forms",
        json={"kind": "card", **body},
        token=agent.token,
    )
    assert answer.status == 201, answer.body
    match = re.search(rf"{re.escape(PUBLIC_URL)}/forms/([\w-]+)", answer.body["message"]["text"])
    assert match, answer.body["message"]["text"]
    return answer.body, match.group(1)


async def test_the_link_goes_out_as_the_agents_reply_and_the_answers_only_to_that_agent(
    bench: Bench, sessions, database_url
) -> None:
    agent, conversation = await owned_conversation(bench, sessions)
    created, token = await send_form(bench, agent, conversation)
    assert created["form"]["status"] == "pending"
    link_delivery = bench.connector.requests[-1].body
    assert (link_delivery["author_type"], link_delivery["author_name"]) == ("agent", "Dana")
    assert f"{PUBLIC_URL}/forms/{token}" in link_delivery["text"]

    status, page = await bench.form_page(token)
    assert status == 200 and 'name="card_number"' in page
    assert "script" not in page
    csp = bench.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert bench.headers["Cache-Control"] == "no-store"
    assert bench.headers["Referrer-Policy"] == "no-referrer"

    status, page = await bench.form_page(token, CARD)
    assert (status, "Thank you" in page) == (200, True)

    detail = await bench.api.get(f"/api/v1/conversations/{conversation['id']}", token=agent.token)
    last = detail.body["messages"][-1]
    assert (last["author_type"], last["text"]) == (
        "system",
        "The customer submitted the secure form (card details).",
    )
    assert all("5556" not in m["text"] for m in detail.body["messages"])
    deliveries = [r.body for r in bench.connector.requests]
    assert all(CARD["card_name"] not in str(body) for body in deliveries)  # never to the channel

    form_id = created["form"]["id"]
    revealed = await bench.api.post(f"/api/v1/secure-forms/{form_id}/reveal", token=agent.token)
    assert revealed.status == 200
    assert {v["name"]: v["value"] for v in revealed.body["values"]} == CARD
    assert revealed.body["status"] == "submitted"

    other = await make_agent(sessions, name="Sam")
    supervisor = await make_agent(sessions, role=Role.SUPERVISOR)
    for outsider in (other, supervisor):
        refused = await bench.api.post(
            f"/api/v1/secure-forms/{form_id}/reveal", token=outsider.token
        )
        assert (refused.status, refused.body["error"]) == (403, "not_owner")
    listing = await bench.api.get(
        f"/api/v1/conversations/{conversation['id']}/secure-forms", token=other.token
    )
    assert [f["status"] for f in listing.body["forms"]] == ["submitted"]
    assert "values" not in listing.body["forms"][0]


async def test_the_link_works_once(bench: Bench, sessions) -> None:
    agent, conversation = await owned_conversation(bench, sessions)
    created, token = await send_form(bench, agent, conversation)
    assert (await bench.form_page(token, CARD))[0] == 200
    async with sessions() as session:
        sealed = await session.scalar(select(SecureForm.sealed))
        lines = await session.scalar(select(Message.id).where(Message.author_type == "system"))

    status, page = await bench.form_page(token, {**CARD, "card_name": "Someone Else"})
    assert (status, "already used" in page) == (410, True)
    assert (await bench.form_page(token))[0] == 410
    async with sessions() as session:
        assert await session.scalar(select(SecureForm.sealed)) == sealed  # nothing overwritten
        assert await session.scalar(select(Message.id).where(Message.author_type == "system")) == (
            lines
        )
    revealed = await bench.api.post(
        f"/api/v1/secure-forms/{created['form']['id']}/reveal", token=agent.token
    )
    assert {v["name"]: v["value"] for v in revealed.body["values"]}["card_name"] == "Robin Vale"


async def test_an_expired_link_stores_nothing(bench: Bench, sessions) -> None:
    agent, conversation = await owned_conversation(bench, sessions)
    created, token = await send_form(bench, agent, conversation)
    async with sessions.begin() as session:
        await session.execute(update(SecureForm).values(expires_at=utc_now()))

    assert (await bench.form_page(token))[0] == 410
    status, page = await bench.form_page(token, CARD)
    assert (status, "expired" in page) == (410, True)
    async with sessions() as session:
        form = await session.scalar(select(SecureForm))
        assert form is not None and (form.status, form.sealed) == ("pending", None)
    listing = await bench.api.get(
        f"/api/v1/conversations/{conversation['id']}/secure-forms", token=agent.token
    )
    assert listing.body["forms"][0]["status"] == "expired"
    refused = await bench.api.post(
        f"/api/v1/secure-forms/{created['form']['id']}/reveal", token=agent.token
    )
    assert (refused.status, refused.body["error"]) == (409, "not_submitted")


async def test_a_wrong_card_number_shows_the_form_again_and_stores_nothing(
    bench: Bench, sessions
) -> None:
    agent, conversation = await owned_conversation(bench, sessions)
    _, token = await send_form(bench, agent, conversation)
    status, page = await bench.form_page(token, {**CARD, "card_number": "4000 0566 5566 5557"})
    assert (status, "not a valid card number" in page) == (400, True)
    assert "4000 0566 5566 5557" not in page  # what was typed is not echoed back
    async with sessions() as session:
        assert await session.scalar(select(SecureForm.status)) == "pending"
    assert (await bench.form_page(token, CARD))[0] == 200  # the link still works


async def test_answers_and_tokens_are_not_in_the_database_file(
    bench: Bench, sessions, database_url
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file")
    agent, conversation = await owned_conversation(bench, sessions)
    _, token = await send_form(bench, agent, conversation, kind="text", label="Account PIN")
    _, page = await bench.form_page(token)
    assert "Account PIN" in page
    assert (await bench.form_page(token, {"text": "orchid-7731-secret"}))[0] == 200
    path = Path(database_url.partition(":///")[2])
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"orchid-7731-secret" not in stored
    assert token.encode() not in stored.replace(b"/forms/" + token.encode(), b"")
    async with sessions() as session:
        form = await session.scalar(select(SecureForm))
    assert form is not None and form.token_hash == token_hash(token)
    assert Sealer(KEY).open(form.sealed or b"", form.id) == {"text": "orchid-7731-secret"}


async def test_a_sealed_answer_cannot_be_moved_to_another_form() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal({"text": "x"}, "form-a")
    with pytest.raises(InvalidTag):
        sealer.open(sealed, "form-b")
    with pytest.raises(InvalidTag):
        Sealer(KEY + "-other").open(sealed, "form-a")


@pytest.mark.parametrize(
    ("body", "who", "status", "error"),
    [
        ({"kind": "card"}, "other", 403, "not_owner"),
        ({"kind": "passport"}, "owner", 422, "invalid_kind"),
        ({"kind": ["card"]}, "owner", 422, "invalid_kind"),
        ({"kind": "text", "label": 7}, "owner", 422, "invalid_label"),
        ({"kind": "text", "label": "x" * 101}, "owner", 422, "invalid_label"),
        ({}, "owner", 400, "missing_field"),
    ],
)
async def test_only_the_owner_sends_a_valid_form(
    bench: Bench, sessions, body, who, status, error
) -> None:
    agent, conversation = await owned_conversation(bench, sessions)
    sender = agent if who == "owner" else await make_agent(sessions)
    answer = await bench.api.post(
        f"/api/v1/conversations/{conversation['id']}/secure-forms", json=body, token=sender.token
    )
    assert (answer.status, answer.body["error"]) == (status, error)
    async with sessions() as session:
        assert await session.scalar(select(SecureForm.id)) is None


async def test_a_queued_conversation_cannot_get_a_form(bench: Bench, sessions) -> None:
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)
    answer = await bench.api.post(
        f"/api/v1/conversations/{conversation['id']}/secure-forms",
        json={"kind": "card"},
        token=agent.token,
    )
    assert (answer.status, answer.body["error"]) == (409, "not_assigned")


async def test_without_a_key_secure_forms_are_refused(settings, sessions) -> None:
    async with serving(create_app(settings)) as base, aiohttp.ClientSession() as http:
        api = ApiClient(http, base)
        agent = await make_agent(sessions)
        conversation = await make_conversation(sessions)
        await api.post(f"/api/v1/conversations/{conversation['id']}/claim", token=agent.token)
        answer = await api.post(
            f"/api/v1/conversations/{conversation['id']}/secure-forms",
            json={"kind": "card"},
            token=agent.token,
        )
    assert (answer.status, answer.body["error"]) == (503, "secure_forms_disabled")


async def test_an_unknown_link_is_a_clear_404_page(bench: Bench) -> None:
    status, page = await bench.form_page("no-such-token")
    assert (status, "does not work" in page) == (404, True)


def test_the_key_is_refused_outside_dev_and_must_be_long() -> None:
    base = Settings(api_token="t-intake", delivery_token="t-delivery")
    assert base.validated().secure_form_key == ""  # secure forms refused (503 above)
    assert replace(base, env="dev").validated().secure_form_key  # a fixed dev key
    with pytest.raises(SettingsError, match="SECURE_FORM_KEY must be at least 32"):
        replace(base, secure_form_key="short").validated()
    assert replace(base, secure_form_key=KEY).validated().secure_form_key == KEY
