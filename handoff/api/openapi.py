"""The OpenAPI description served at /api/openapi.json.

`handoff/openapi.yaml` describes the paths, bodies, success answers and the errors particular
to a route (404 unknown conversation, 409 state conflicts, 502 Rasa down, …). The answers that
follow from what a route *is* are added here, from the app's routes, so no route can miss one:
the guards' (401, 403, noted on the handler by `handoff.api.guard`), a body's (400 malformed,
422 wrong types or values, 413 too large for the route), a path parameter's 404, a websocket's
426 without an upgrade, and what a handler notes itself (`@answers(429)` on the login).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from sanic import Sanic
from sanic_routing import Route

OPENAPI_FILE = Path(__file__).resolve().parents[1] / "openapi.yaml"
ERROR = {"$ref": "#/components/responses/Error"}
SPECIAL = {429: {"$ref": "#/components/responses/Throttled"}}


def spec_path(route_path: str) -> str:
    """`api/v1/conversations/<conversation_id:str>` -> `/api/v1/conversations/{conversation_id}`"""
    return "/" + re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", route_path)


def describe(app: Sanic) -> dict[str, Any]:
    with OPENAPI_FILE.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    routes = {
        (spec_path(route.path), method.lower()): route
        for route in app.router.routes
        for method in route.methods
    }
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if (route := routes.get((path, method))) is not None:
                _complete(operation, route)
    return spec


def error_statuses(route: Route, operation: dict[str, Any]) -> set[int]:
    statuses = set(vars(route.handler).get("answers", ()))
    if "requestBody" in operation:
        statuses |= {400, 422}
    if not route.extra.ignore_body:
        statuses.add(413)  # any body is read, and refused over the route's limit
    if "<" in route.path:
        statuses.add(404)
    if route.extra.websocket:
        statuses.add(426)
    return statuses


def _complete(operation: dict[str, Any], route: Route) -> None:
    responses = dict(operation.get("responses", {}))  # a copy: YAML anchors share one mapping
    for status in sorted(error_statuses(route, operation)):
        responses.setdefault(str(status), SPECIAL.get(status, ERROR))
    operation["responses"] = responses
    if (role := vars(route.handler).get("required_role")) is not None:
        operation["x-required-role"] = role.value
