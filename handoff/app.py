"""The app factory: `sanic handoff.app:create_app --factory` (or `python -m handoff`)."""

from __future__ import annotations

import asyncio
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
from handoff.csat import load_policy
from handoff.db import create_engine, session_factory
from handoff.delivery import DeliveryClient
from handoff.errors import ServiceError
from handoff.http import RetryPolicy
from handoff.ingest.runner import start_source, stop_source
from handoff.live import broadcaster
from handoff.media import MediaClient
from handoff.periodic import run_every, run_leased
from handoff.rasa_client import RasaClient
from handoff.reply_templates import load_templates
from handoff.services.approvals import ApprovalService
from handoff.services.assignment import AssignmentService, run_queue
from handoff.services.auth import AuthService
from handoff.services.bulk_actions import BulkActionService
from handoff.services.canned_replies import PLACEHOLDERS, CannedReplyService
from handoff.services.conversations import ConversationService
from handoff.services.crm import CrmConfig, CrmLookup
from handoff.services.csat import CsatService
from handoff.services.customer_activity import CustomerActivityService
from handoff.services.customers import CustomerService
from handoff.services.dead_letters import DeadLetterService
from handoff.services.deliveries import DeliveryStatusService
from handoff.services.directory import DirectoryService
from handoff.services.erasure import ErasureService, run_erasure_retries
from handoff.services.export import ExportService
from handoff.services.handover import HandoverService
from handoff.services.intake import IntakeService
from handoff.services.kpi_setup import kpi_tasks, setup_kpis
from handoff.services.media import MediaService
from handoff.services.presence import PresenceService
from handoff.services.reply_templates import ReplyTemplateService
from handoff.services.retention import RetentionPolicy, run_retention
from handoff.services.search import SearchService
from handoff.services.secure_forms import SecureFormService
from handoff.services.sink import EventSink
from handoff.services.snooze import SnoozeService
from handoff.services.suggestions import SuggestionService
from handoff.services.supervision import SupervisionService
from handoff.services.threads import ThreadService
from handoff.services.webhooks import SenderPolicy, WebhookSender, WebhookService
from handoff.settings import Settings
from handoff.sla import check_sla
from handoff.thread_policy import load_policy as load_thread_policy

logger = logging.getLogger(__name__)
STOP_SECONDS = 10.0  # for the background jobs to finish their round at shutdown

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
    app.ctx.crm_config = crm_config(settings)  # so does a wrong CRM setting
    app.ctx.csat_policy = load_policy(settings.csat_policy_path)  # and a wrong CSAT policy
    app.ctx.thread_policy = load_thread_policy(settings.thread_policy_path)  # or thread policy
    app.ctx.templates = load_templates(frozenset(PLACEHOLDERS))  # or a channel template
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


def crm_config(settings: Settings) -> CrmConfig | None:
    if not settings.crm_lookup_url:
        return None
    return CrmConfig.parse(
        settings.crm_lookup_url,
        settings.crm_token,
        settings.crm_timeout_seconds,
        settings.crm_cache_seconds,
        settings.crm_fields,
    )


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
    app.ctx.csat = CsatService(sessions, app.ctx.csat_policy)
    app.ctx.rasa = RasaClient(app.ctx.http, settings.rasa_url, settings.rasa_token, policy)
    app.ctx.conversations = conversations = ConversationService(
        sessions,
        live,
        DeliveryClient(app.ctx.http, settings.delivery_url, settings.delivery_token, policy),
        app.ctx.rasa,
        brand=settings.brand_name,
        csat=app.ctx.csat,
    )
    app.ctx.threads = ThreadService(
        sessions, live, app.ctx.thread_policy, conversations, app.ctx.rasa, app.ctx.csat
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
    app.ctx.customer_activity = CustomerActivityService(sessions, live)
    media = MediaClient(app.ctx.http, settings.delivery_url, settings.delivery_token)
    app.ctx.media = MediaService(sessions, media)
    app.ctx.canned_replies = CannedReplyService(sessions)
    app.ctx.suggestions = SuggestionService(sessions, app.ctx.canned_replies)
    app.ctx.search = SearchService(sessions)
    app.ctx.customers = CustomerService(sessions)
    app.ctx.directory = DirectoryService(sessions)
    app.ctx.snoozes = SnoozeService(sessions, live)
    app.ctx.sink = EventSink(sessions, live, app.ctx.threads)
    app.ctx.reply_templates = ReplyTemplateService(sessions, conversations, app.ctx.templates)
    app.ctx.bulk_actions = BulkActionService(sessions, live, conversations)
    app.ctx.dead_letters = DeadLetterService(sessions, app.ctx.sink)
    app.ctx.erasures = ErasureService(
        sessions, app.ctx.http, settings.delivery_url, settings.erasure_token
    )
    setup_kpis(app)
    app.ctx.crm = CrmLookup(sessions, app.ctx.http, app.ctx.crm_config)
    app.ctx.exports = ExportService(sessions, settings.brand_name)
    app.ctx.webhooks = WebhookService(sessions)
    # Its own connection pool: slow or dead webhook endpoints never hold the connectors' sockets.
    app.ctx.webhook_http = aiohttp.ClientSession()
    app.ctx.webhook_sender = WebhookSender(
        sessions,
        app.ctx.webhook_http,
        SenderPolicy(
            timeout_seconds=settings.webhook_timeout_seconds,
            backoff_seconds=settings.webhook_backoff_seconds,
            max_backoff_seconds=settings.webhook_max_backoff_seconds,
            retry_for=timedelta(hours=settings.webhook_retry_hours),
        ),
    )
    app.ctx.assignment = assignment = AssignmentService(sessions, live, settings.queue)
    app.ctx.presence = presence = PresenceService(
        sessions, live, settings.queue, on_free=assignment.wake
    )
    app.ctx.handover = HandoverService(sessions, live, conversations, on_free=assignment.wake)
    app.ctx.approvals = ApprovalService(sessions, live, conversations)
    warning = timedelta(minutes=settings.sla_warning_minutes)
    app.ctx.supervision = SupervisionService(
        sessions, presence, warning, app.ctx.calendar, settings.kpis.sla_warning_ratio
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
        at_start=False,  # an expired session is refused anyway; its row can wait for a round
    )
    surveys = run_leased(  # due CSAT surveys, after the policy's delay, started once
        app.ctx.sessions,
        "csat-surveys",
        instance,
        settings.csat_check_seconds,
        functools.partial(app.ctx.csat.send_due, app.ctx.rasa, app.ctx.conversations),
        at_start=False,  # a survey waits for its round, never for the instance's start
    )
    lifetime = run_leased(
        app.ctx.sessions,
        "thread-lifetime",
        instance,
        settings.thread_check_seconds,
        app.ctx.threads.close_silent,
    )
    app.ctx.background = [
        app.ctx.sla_task,
        asyncio.ensure_future(cleanup),
        asyncio.ensure_future(surveys),
        asyncio.ensure_future(lifetime),
        asyncio.ensure_future(  # safe in every instance: each wake-up is a conditional UPDATE
            run_every(settings.sla_check_seconds, app.ctx.snoozes.wake_due, "snooze wake-up")
        ),
    ]
    app.ctx.background.extend(kpi_tasks(app))
    app.ctx.background.extend(suggestion_tasks(app, instance))
    if settings.webhook_sender:
        sender = app.ctx.webhook_sender.run(settings.webhook_poll_seconds)
        app.ctx.background.append(asyncio.ensure_future(sender))
    # every instance applies the customers' presence reports any instance got
    app.ctx.background.append(asyncio.ensure_future(app.ctx.customer_activity.follow()))
    queue = run_queue(app.ctx.assignment, app.ctx.presence, app.ctx.live)
    app.ctx.background.append(asyncio.ensure_future(queue))
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


def suggestion_tasks(app: Sanic, instance: str) -> list[asyncio.Future[None]]:
    """Mining resolved conversations (one instance) and each instance's index refresh."""
    every, suggestions = app.ctx.settings.suggestion_index_seconds, app.ctx.suggestions
    mine = run_leased(app.ctx.sessions, "suggestion-miner", instance, every, suggestions.mine)
    refresh = run_every(every, suggestions.refresh, "suggestion index refresh")
    return [asyncio.ensure_future(mine), asyncio.ensure_future(refresh)]


async def stop(app: Sanic) -> None:
    await stop_source(app)  # finishes the batch in hand while the engine is still there
    for task in app.ctx.background:
        task.cancel()
    # Let them give their connections back before the engine goes, but never wait forever.
    _, stuck = await asyncio.wait(app.ctx.background, timeout=STOP_SECONDS)
    for task in stuck:
        logger.error("background task %r did not stop within %s s", task, STOP_SECONDS)
    await app.ctx.presence.close()  # sockets still being forgotten
    app.ctx.auth.close()
    await app.ctx.live.close()
    await app.ctx.http.close()
    await app.ctx.webhook_http.close()
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
