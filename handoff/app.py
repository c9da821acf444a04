"""The app factory: `sanic handoff.app:create_app --factory` (or `python -m handoff`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from datetime import timedelta

import aiohttp
from sanic import Request, Sanic, json
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from handoff import pii
from handoff.api import blueprints
from handoff.api.body_limits import limit_body
from handoff.api.openapi import describe
from handoff.api.security_headers import add_security_headers
from handoff.db import create_engine, session_factory
from handoff.delivery import DeliveryClient
from handoff.errors import ServiceError
from handoff.http import RetryPolicy
from handoff.ingest.runner import start_source, stop_source
from handoff.ingest.sink import EventSink
from handoff.live import broadcaster
from handoff.periodic import run_leased
from handoff.rasa_client import RasaClient
from handoff.services.auth import AuthService
from handoff.services.conversations import ConversationService
from handoff.services.dead_letters import DeadLetterService
from handoff.services.deliveries import DeliveryStatusService
from handoff.services.erasure import ErasureService, run_erasure_retries
from handoff.services.intake import IntakeService
from handoff.services.retention import RetentionPolicy, run_retention
from handoff.services.secure_forms import SecureFormService
from handoff.settings import Settings
from handoff.sla import check_sla

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    426: "upgrade_required",
    429: "too_many_requests",
}


def create_app(settings: Settings | None = None) -> Sanic:
    settings = (settings or Settings.from_env()).validated()
    app = Sanic("handoff")
    app.config.REQUEST_MAX_SIZE = settings.request_max_size
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    pii.configure(settings.pii_rules_path)  # a broken rules file stops the start here
    app.ctx.live = broadcaster(settings.live_redis_url, settings.live_channel)
    for blueprint in blueprints():
        app.blueprint(blueprint)
    app.signal("http.routing.after")(limit_body)
    app.register_middleware(add_security_headers, "response")
    app.error_handler.add(ServiceError, service_error)
    app.error_handler.add(SanicException, http_error)
    app.error_handler.add(Exception, http_error)
    app.register_listener(start, "before_server_start")
    app.register_listener(started, "after_server_start")
    app.register_listener(stop, "after_server_stop")
    return app


async def start(app: Sanic) -> None:
    settings: Settings = app.ctx.settings
    app.ctx.openapi = describe(app)
    app.ctx.engine = create_engine(settings.database_url)
    app.ctx.sessions = sessions = session_factory(app.ctx.engine)
    app.ctx.http = aiohttp.ClientSession()
    policy = RetryPolicy(settings.http_retries, settings.http_backoff_seconds)
    live = app.ctx.live
    await live.start()
    app.ctx.auth = AuthService(
        sessions, timedelta(minutes=settings.session_ttl_minutes), limits=settings.login
    )
    app.ctx.intake = IntakeService(sessions, live)
    app.ctx.conversations = conversations = ConversationService(
        sessions,
        live,
        DeliveryClient(app.ctx.http, settings.delivery_url, settings.delivery_token, policy),
        RasaClient(app.ctx.http, settings.rasa_url, settings.rasa_token, policy),
        brand=settings.brand_name,
    )
    app.ctx.secure_forms = SecureFormService(
        sessions,
        live,
        conversations,
        settings.public_url,
        settings.secure_form_key,
        timedelta(minutes=settings.secure_form_ttl_minutes),
    )
    app.ctx.deliveries = DeliveryStatusService(sessions, live)
    app.ctx.sink = EventSink(sessions, live)
    app.ctx.dead_letters = DeadLetterService(sessions, app.ctx.sink)
    app.ctx.erasures = ErasureService(
        sessions, app.ctx.http, settings.delivery_url, settings.erasure_token
    )


async def started(app: Sanic) -> None:
    settings: Settings = app.ctx.settings
    instance = uuid.uuid4().hex  # holds this instance's job leases (handoff/periodic.py)
    warning = timedelta(minutes=settings.sla_warning_minutes)
    sla_round = functools.partial(check_sla, app.ctx.sessions, app.ctx.live, warning)
    app.ctx.sla_task = asyncio.ensure_future(
        run_leased(app.ctx.sessions, "sla-monitor", instance, settings.sla_check_seconds, sla_round)
    )
    cleanup = run_leased(
        app.ctx.sessions,
        "session-cleanup",
        instance,
        settings.session_cleanup_seconds,
        app.ctx.auth.purge_expired,
    )
    app.ctx.background = [app.ctx.sla_task, asyncio.ensure_future(cleanup)]
    if settings.erasure_token:
        retries = run_erasure_retries(app.ctx.erasures, settings.erasure_retry_seconds)
        app.ctx.background.append(asyncio.ensure_future(retries))
    if settings.retention_days > 0:
        policy = RetentionPolicy(settings.retention_days, settings.retention_mode)
        every = settings.retention_check_minutes * 60
        app.ctx.background.append(
            asyncio.ensure_future(run_retention(app.ctx.sessions, policy, every))
        )
    if settings.event_source is not None:
        await start_source(app)


async def stop(app: Sanic) -> None:
    await stop_source(app)  # finishes the batch in hand while the engine is still there
    for task in app.ctx.background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # let it give its connection back before the engine goes
    app.ctx.auth.close()
    await app.ctx.live.close()
    await app.ctx.http.close()
    await app.ctx.engine.dispose()


def error_body(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> HTTPResponse:
    return json({"error": code, "message": message}, status=status, headers=headers)


async def service_error(request: Request, error: ServiceError) -> HTTPResponse:
    return error_body(error.status, error.code, error.message, error.headers)


async def http_error(request: Request, error: Exception) -> HTTPResponse:
    status = error.status_code if isinstance(error, SanicException) else 500
    if status >= 500:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return error_body(status, "server_error", "Something went wrong on our side.")
    message = str(error) or HTTP_CODES.get(status, "error")
    if status == 413 and (limit := getattr(getattr(request, "ctx", None), "body_limit", None)):
        message = f"The request body is over this endpoint's limit of {limit} bytes."
    headers = error.headers if isinstance(error, SanicException) else None  # e.g. 405's Allow
    return error_body(status, HTTP_CODES.get(status, "error"), message, headers)
