"""The OpenAPI description matches the app's routes, both ways."""

from __future__ import annotations

import re

from handoff.app import create_app
from handoff.settings import Settings


def app_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(api_token="t-intake", delivery_token="t-delivery"))
    routes = set()
    for route in app.router.routes:
        path = "/" + route.path
        path = re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", path)
        for method in route.methods:
            if method not in ("HEAD", "OPTIONS"):
                routes.add((path, method.lower()))
    return routes


async def test_every_route_is_documented_and_every_documented_path_exists(client):
    answer = await client.get("/api/openapi.json")
    assert answer.status == 200
    spec = answer.body
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == app_routes()
