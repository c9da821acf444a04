"""HTTP routes, one module per area; handlers parse and answer, services do the work."""

from __future__ import annotations

from sanic import Blueprint

from handoff.api import (
    agents_queue,
    agents_work,
    auth,
    bulk_actions,
    canned_replies,
    conversations,
    customer_activity,
    customers,
    dead_letters,
    deliveries,
    directory,
    erasures,
    intake,
    integrations,
    kpis,
    live,
    media,
    meta,
    secure_forms,
    suggestions,
    webhooks,
)


def blueprints() -> list[Blueprint]:
    return [
        intake.bp,
        deliveries.bp,
        customer_activity.bp,
        auth.bp,
        conversations.bp,
        customers.bp,
        canned_replies.bp,
        suggestions.bp,
        bulk_actions.bp,
        directory.bp,
        dead_letters.bp,
        erasures.bp,
        kpis.bp,
        live.bp,
        media.bp,
        meta.bp,
        secure_forms.api,
        secure_forms.public,
        webhooks.bp,
        integrations.bp,
        agents_queue.bp,
        agents_work.bp,
    ]
