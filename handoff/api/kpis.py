"""KPIs, SLA targets, API keys and alerts (docs/kpis.md, docs/alerts.md).

The KPI reads take a supervisor's session or a read-only API key (`Authorization: Bearer
lhk_…`); everything that changes something (targets, keys) needs a supervisor's session.
Tables answer CSV with `?format=csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse, text

from handoff.api.guard import Handler, agent_for, answers, bearer, body, requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.api_keys import is_api_key
from handoff.services.charts import render
from handoff.services.kpis import BUCKETS, DRILL_COLUMNS, DRILL_METRICS, Slice
from handoff.services.sla_targets import MODES, PRIORITIES

bp = Blueprint("kpis", url_prefix="/api/v1")
MAX_DAYS = 400
MIN_YEAR, MAX_YEAR = 2000, 2999  # the previous period and every date stay representable
DEFAULT_DAYS = 7
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # an image: never any script


def kpi_reader(handler: Handler) -> Handler:
    """A supervisor's session or a read-only API key."""

    @wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse | None:
        token = bearer(request)
        if is_api_key(token):
            await request.app.ctx.api_keys.authenticate(token)
        else:
            await agent_for(request, token, Role.SUPERVISOR)
        return await handler(request, *args, **kwargs)

    vars(guarded)["required_role"] = Role.SUPERVISOR
    return answers(401, 403)(guarded)  # type: ignore[return-value]


def _time(value: str | None, name: str, default: datetime) -> datetime:
    if value is None or value == "":
        return default
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 date or time.", "invalid_slice") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_slice(request: Request) -> Slice:
    """The slice from the query: `from`, `to` (default the last 7 days), `team`, `agent`,
    `channel`, `topic`, `priority`, `mode`; 422 naming what is wrong."""
    args = request.args
    end = _time(args.get("to"), "to", datetime.now(timezone.utc))
    if not MIN_YEAR <= end.year <= MAX_YEAR:
        raise Invalid(f"to must be between the years {MIN_YEAR} and {MAX_YEAR}.", "invalid_slice")
    start = _time(args.get("from"), "from", end - timedelta(days=DEFAULT_DAYS))
    if not MIN_YEAR <= start.year <= MAX_YEAR:
        raise Invalid(f"from must be between the years {MIN_YEAR} and {MAX_YEAR}.", "invalid_slice")
    if start >= end:
        raise Invalid("from must be before to.", "invalid_slice")
    if end - start > timedelta(days=MAX_DAYS):
        raise Invalid(f"A slice spans at most {MAX_DAYS} days.", "invalid_slice")
    priority = args.get("priority")
    if priority is not None and priority not in {str(level) for level in PRIORITIES}:
        raise Invalid("priority must be 1, 2, 3 or 4.", "invalid_slice")
    mode = args.get("mode")
    if mode is not None and mode not in MODES:
        raise Invalid("mode must be sync or async.", "invalid_slice")
    texts = {name: args.get(name) for name in ("team", "agent", "channel", "topic")}
    for name, value in texts.items():
        if value is not None and not 0 < len(value) <= 255:
            raise Invalid(f"{name} must be 1 to 255 characters.", "invalid_slice")
    return Slice(
        start,
        end,
        team=texts["team"],
        agent_id=texts["agent"],
        channel=texts["channel"],
        topic=texts["topic"],
        priority=int(priority) if priority is not None else None,
        mode=mode,
    )


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise Invalid(f"{name} must be true or false.", "invalid_slice")
    return value == "true"


def _choice(request: Request, name: str, choices: Sequence[str], default: str) -> str:
    value = request.args.get(name, default)
    if value not in choices:
        raise Invalid(f"{name} must be one of {', '.join(choices)}.", f"invalid_{name}")
    return value


def table(
    request: Request, key: str, rows: list[dict[str, Any]], columns: Sequence[str], extra: Any
) -> HTTPResponse:
    """JSON `{key: rows, **extra}`, or CSV of `columns` with `?format=csv`."""
    if _choice(request, "format", ("json", "csv"), "json") == "json":
        return json({key: rows, **extra})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return text(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{key}.csv"'},
    )


def summary_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary flattened for CSV: one row per KPI and mode, current and previous."""
    rows: list[dict[str, Any]] = []
    for group in ("sync", "async", "all", "bot"):
        current = _flatten(answer["current"][group])
        previous = _flatten(answer.get("previous", {}).get(group, {}))
        rows.extend(
            {"group": group, "kpi": name, "current": value, "previous": previous.get(name)}
            for name, value in current.items()
        )
    return rows


def _flatten(block: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in block.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


@bp.get("/kpis")
@kpi_reader
async def summary(request: Request) -> HTTPResponse:
    where = parse_slice(request)
    answer = await request.app.ctx.kpis.summary(where, _flag(request, "compare", True))
    if request.args.get("format") == "csv":
        rows = summary_rows(answer)
        return table(request, "kpis", rows, ("group", "kpi", "current", "previous"), {})
    _choice(request, "format", ("json", "csv"), "json")
    return json(answer)


@bp.get("/kpis/agents")
@kpi_reader
async def agents(request: Request) -> HTTPResponse:
    where = parse_slice(request)
    rows = await request.app.ctx.kpis.agents(where)
    columns = list(rows[0]) if rows else ["agent_id", "agent_name", "responses"]
    return table(request, "agents", rows, columns, {"slice": where.view()})


@bp.get("/kpis/series")
@kpi_reader
async def series(request: Request) -> HTTPResponse:
    where = parse_slice(request)
    bucket = _choice(request, "bucket", BUCKETS, "day")
    points = await request.app.ctx.kpis.series(where, bucket)
    columns = list(points[0]) if points else ["bucket", "handoffs"]
    return table(request, "series", points, columns, {"slice": where.view(), "bucket": bucket})


@bp.get("/kpis/charts/<chart:str>")
@kpi_reader
async def chart(request: Request, chart: str) -> HTTPResponse:
    where = parse_slice(request)
    bucket = _choice(request, "bucket", BUCKETS, "day")
    svg = render(chart, await request.app.ctx.kpis.series(where, bucket))
    return text(
        svg,
        content_type="image/svg+xml; charset=utf-8",
        headers={"Content-Security-Policy": CHART_POLICY},
    )


@bp.get("/kpis/conversations")
@kpi_reader
async def drill(request: Request) -> HTTPResponse:
    where = parse_slice(request)
    metric = _choice(request, "metric", tuple(DRILL_METRICS), "handoffs")
    rows = await request.app.ctx.kpis.drill(where, metric)
    return table(
        request, "conversations", rows, DRILL_COLUMNS, {"slice": where.view(), "metric": metric}
    )


@bp.get("/kpis/live")
@kpi_reader
async def live(request: Request) -> HTTPResponse:
    settings = request.app.ctx.settings.kpis
    tiles = await request.app.ctx.kpis.live(
        request.app.ctx.calendar, settings.sla_warning_ratio, datetime.now(timezone.utc)
    )
    return json(tiles)


@bp.get("/sla-targets")
@kpi_reader
async def targets(request: Request) -> HTTPResponse:
    return json({"targets": await request.app.ctx.sla_targets.current()})


@bp.put("/sla-targets")
@requires(Role.SUPERVISOR)
async def set_targets(request: Request) -> HTTPResponse:
    updated = await request.app.ctx.sla_targets.put(body(request), request.ctx.agent.id)
    return json({"targets": updated})


@bp.get("/api-keys")
@requires(Role.SUPERVISOR)
async def list_keys(request: Request) -> HTTPResponse:
    return json({"api_keys": await request.app.ctx.api_keys.list()})


@bp.post("/api-keys")
@requires(Role.SUPERVISOR)
async def create_key(request: Request) -> HTTPResponse:
    key, token = await request.app.ctx.api_keys.create(
        body(request, required=("name",)).get("name"), request.ctx.agent.id
    )
    return json({"api_key": key, "token": token}, status=201)


@bp.delete("/api-keys/<key_id:str>")
@requires(Role.SUPERVISOR)
async def revoke_key(request: Request, key_id: str) -> HTTPResponse:
    return json({"api_key": await request.app.ctx.api_keys.revoke(key_id)})


@bp.get("/alerts")
@kpi_reader
async def alerts(request: Request) -> HTTPResponse:
    status = request.args.get("status", "open")
    listed = await request.app.ctx.alerts.list(None if status == "all" else status)
    return json({"alerts": listed})
