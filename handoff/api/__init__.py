"""HTTP routes, one module per area; handlers parse and answer, services do the work."""

from __future__ import annotations

from sanic import Blueprint

from handoff.api import (
    auth,
    conversations,
    dead_letters,
    deliveries,
    directory,
    erasures,
    intake,
    integrations,
    live,
    meta,
    secure_forms,
    webhooks,
)


def blueprints() -> list[Blueprint]:
    return [
        intake.bp,
        deliveries.bp,
        auth.bp,
        conversations.bp,
        directory.bp,
        dead_letters.bp,
        erasures.bp,
        live.bp,
        meta.bp,
        secure_forms.api,
        secure_forms.public,
        webhooks.bp,
        integrations.bp,
    ]
