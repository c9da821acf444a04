"""A local stand-in for a CRM's customer API: `GET /api/v2/customers?reference=…` with a bearer
token, answering a nested customer record, 404 for unknown references, and on demand slowly,
with a 500, or with something that is not JSON."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "crm-test-token"
CUSTOMERS: dict[str, dict[str, Any]] = {
    "ACC-482913": {
        "id": "cus_8812",
        "full_name": "Ana Silva",
        "email": "ana@example.org",
        "plan": {"name": "Home Premium", "since": "2024-03-01"},
        "orders": {"open": 2, "ids": ["ORD-1", "ORD-2"]},
        "lifetime_value": {"amount": 1234.5, "currency": "EUR"},
        "segment": "loyal",
    },
    "ACC 1/2": {"id": "cus_12", "full_name": "Odd <Reference>", "plan": None},
}


@dataclass
class CrmStub:
    mode: str = "normal"  # normal | slow | error | garbage
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # path_qs, auth, accept
    url: str = ""

    async def customers(self, request: web.Request) -> web.Response:
        self.requests.append(
            (request.path_qs, request.headers.get("Authorization", ""), request.headers["Accept"])
        )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": "internal"}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        customer = CUSTOMERS.get(request.query.get("reference", ""))
        if customer is None:
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response({"data": customer, "meta": {"api": "v2"}})


@asynccontextmanager
async def crm_stub() -> AsyncIterator[CrmStub]:
    stub = CrmStub()
    app = web.Application()
    app.router.add_get("/api/v2/customers", stub.customers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stub.url = f"http://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        await runner.cleanup()
