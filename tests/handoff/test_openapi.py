"""The OpenAPI description matches the app's routes, both ways."""

from __future__ import annotations

import re

import pytest

from handoff.app import create_app
from handoff.settings import Settings

pytestmark = pytest.mark.one_store  # the published description: not the database


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


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def secured(spec: dict, operation: dict) -> bool:
    return operation.get("security", spec["security"]) != []


async def test_the_errors_the_service_gives_are_documented(client):
    spec = (await client.get("/api/openapi.json")).body
    paths = spec["paths"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    assert {"400", "401", "413", "422", "429"} <= set(login)
    throttled = spec["components"]["responses"][login["429"]["$ref"].rsplit("/", 1)[-1]]
    assert throttled["headers"]["Retry-After"]["required"] is True
    assert "426" in paths["/api/v1/ws"]["get"]["responses"]
    for path, method, operation in operations(spec):
        responses = set(operation["responses"])
        if secured(spec, operation):
            assert "401" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= responses, (method, path)
        if method == "post":
            assert "413" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


async def test_secured_operations_refuse_missing_and_bad_tokens(client):
    spec = (await client.get("/api/openapi.json")).body
    for path, method, operation in operations(spec):
        if not secured(spec, operation):
            continue
        url = re.sub(r"\{\w+\}", "1", path)
        for token in (None, "bogus"):
            answer = await client.request(method.upper(), url, token=token)
            assert answer.status == 401, (method, path, token)
