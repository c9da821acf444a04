"""Health, the OpenAPI description and the agent console (static files)."""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse, file

from handoff.errors import NotFound

bp = Blueprint("meta")
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/api/openapi.json")
async def openapi(request: Request) -> HTTPResponse:
    return json(request.app.ctx.openapi)


@bp.get("/")
async def console(request: Request) -> HTTPResponse:
    return await file(console_file("index.html"), mime_type="text/html; charset=utf-8")


@bp.get("/console/<path:path>")
async def console_files(request: Request, path: str) -> HTTPResponse:
    return await file(console_file(path))


def console_file(path: str) -> Path:
    """A file directly in the console's folder, else 404 (folders, other places, odd names)."""
    name = Path(path).name
    if name != path or name.startswith(".") or "\x00" in name:
        raise NotFound("No such file in the agent console.")
    candidate = CONSOLE_DIR / name
    try:
        found = candidate.is_file()
    except OSError:  # e.g. a name too long for the file system
        found = False
    if not found:
        raise NotFound("No such file in the agent console.")
    return candidate
