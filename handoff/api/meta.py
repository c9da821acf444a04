"""Health, the OpenAPI description and the agent console (static files)."""

from __future__ import annotations

from pathlib import Path

import yaml
from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse, file

from handoff.errors import NotFound

bp = Blueprint("meta")
OPENAPI_FILE = Path(__file__).resolve().parents[1] / "openapi.yaml"
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"


def load_openapi() -> dict:
    with OPENAPI_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/api/openapi.json")
async def openapi(request: Request) -> HTTPResponse:
    return json(request.app.ctx.openapi)


@bp.get("/")
async def console(request: Request) -> HTTPResponse:
    index = CONSOLE_DIR / "index.html"
    if not index.is_file():
        raise NotFound("The agent console is not installed (handoff/console/index.html).")
    return await file(index, mime_type="text/html; charset=utf-8")
