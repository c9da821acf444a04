"""CRM lookup for the console's side panel, against a local CRM stub: the configured fields,
a brief cache, and every failure as a status the panel shows, never an error page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
import pytest

from handoff.app import create_app
from handoff.services.crm import CrmSettingsError
from harness.handoff_data import make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.crm_stub import TOKEN, CrmStub, crm_stub

pytestmark = pytest.mark.one_store  # the CRM lookup and its cache: not the database

FIELDS = (
    "Name=data.full_name, Plan=data.plan.name, Open orders=data.orders.open,"
    " Order ids=data.orders.ids, Lifetime value=data.lifetime_value.amount,"
    " Currency=data.lifetime_value.currency, Segment=data.segment"
)


@asynccontextmanager
async def service_with_crm(settings, **crm) -> AsyncIterator[tuple[ApiClient, CrmStub]]:
    async with crm_stub() as stub:
        values = {
            "crm_lookup_url": stub.url + "/api/v2/customers?reference={reference}",
            "crm_token": TOKEN,
            "crm_timeout_seconds": 0.5,
            "crm_fields": FIELDS,
            **crm,
        }
        app = create_app(replace(settings, **values))
        async with serving(app) as url, aiohttp.ClientSession() as http:
            yield ApiClient(http, url), stub


def triage(reference: str | None) -> dict:
    return {"topic": "billing", "description": "x", "reference": reference}


async def test_the_panel_shows_the_configured_fields_and_asks_the_crm_once_per_cache_period(
    sessions, settings
):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)  # reference ACC-482913
    async with service_with_crm(settings) as (api, stub):
        path = f"/api/v1/conversations/{conversation['id']}/crm"
        first = await api.get(path, token=agent.token)
        again = await api.get(path, token=agent.token)
    assert first.status == 200
    assert first.body["status"] == "ok" and first.body["cached"] is False
    assert {f["label"]: f["value"] for f in first.body["fields"]} == {
        "Name": "Ana Silva",
        "Plan": "Home Premium",
        "Open orders": "2",
        "Order ids": "ORD-1, ORD-2",
        "Lifetime value": "1234.5",
        "Currency": "EUR",
        "Segment": "loyal",
    }
    assert again.body["cached"] is True and again.body["fields"] == first.body["fields"]
    assert stub.requests == [
        ("/api/v2/customers?reference=ACC-482913", f"Bearer {TOKEN}", "application/json")
    ]


async def test_references_are_url_encoded_and_missing_values_are_not_asked_for(sessions, settings):
    agent = await make_agent(sessions)
    odd = await make_conversation(sessions, triage=triage("ACC 1/2"))
    unknown = await make_conversation(sessions, triage=triage("ACC-000000"))
    none = await make_conversation(sessions, triage=triage(None))
    async with service_with_crm(settings) as (api, stub):
        answers = {
            name: (await api.get(f"/api/v1/conversations/{c['id']}/crm", token=agent.token)).body
            for name, c in (("odd", odd), ("unknown", unknown), ("none", none))
        }
    assert stub.requests[0][0] == "/api/v2/customers?reference=ACC%201%2F2"
    assert answers["odd"]["fields"] == [
        {"label": "Name", "path": "data.full_name", "value": "Odd <Reference>"}
    ]
    assert answers["unknown"]["status"] == "not_found"
    assert answers["none"]["status"] == "no_key"
    assert "reference" in answers["none"]["message"]
    assert len(stub.requests) == 2  # nothing asked without a reference


@pytest.mark.parametrize(
    ("mode", "token", "reason"),
    [
        ("slow", TOKEN, "timed out"),
        ("error", TOKEN, "HTTP 500"),
        ("garbage", TOKEN, "not JSON"),
        ("normal", "wrong-token", "HTTP 401"),
    ],
)
async def test_a_failing_crm_shows_as_unavailable(sessions, settings, mode, token, reason):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)
    async with service_with_crm(settings, crm_token=token) as (api, stub):
        stub.mode = mode
        answer = await api.get(f"/api/v1/conversations/{conversation['id']}/crm", token=agent.token)
        other = await api.get("/api/v1/conversations/nope/crm", token=agent.token)
    assert answer.status == 200
    assert answer.body["status"] == "unavailable" and answer.body["fields"] == []
    assert reason in answer.body["message"]
    assert other.status == 404


async def test_an_unreachable_or_unconfigured_crm_is_a_status_too(sessions, settings):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)
    path = f"/api/v1/conversations/{conversation['id']}/crm"
    down = replace(settings, crm_lookup_url="http://127.0.0.1:9/c?ref={reference}")
    async with serving(create_app(down)) as url, aiohttp.ClientSession() as http:
        unreachable = await ApiClient(http, url).get(path, token=agent.token)
    async with serving(create_app(settings)) as url, aiohttp.ClientSession() as http:
        unconfigured = await ApiClient(http, url).get(path, token=agent.token)
    assert (unreachable.status, unreachable.body["status"]) == (200, "unavailable")
    assert "not reachable" in unreachable.body["message"]
    assert (unconfigured.status, unconfigured.body["status"]) == (200, "not_configured")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"crm_lookup_url": "https://crm.example/c?id={account}"}, "CRM_LOOKUP_URL"),
        ({"crm_lookup_url": "https://crm.example/c"}, "CRM_LOOKUP_URL"),
        ({"crm_lookup_url": "ftp://crm.example/{reference}"}, "CRM_LOOKUP_URL"),
        (
            {"crm_lookup_url": "https://crm.example/{reference}", "crm_fields": "Name"},
            "CRM_FIELDS item 1",
        ),
    ],
)
def test_wrong_crm_settings_stop_the_start_naming_the_variable(settings, values, named):
    with pytest.raises(CrmSettingsError, match=named):
        create_app(replace(settings, **values))
