"""HTTP routes, one module per area; handlers parse and answer, services do the work."""

from __future__ import annotations

from sanic import Blueprint

from handoff.api import (
    agents_queue,
    agents_work,
    auth,
    conversations,
    dead_letters,
    deliveries,
    directory,
    erasures,
    intake,
    live,
    meta,
    secure_forms,
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
        agents_queue.bp,
        agents_work.bp,
    ]
