"""HTTP routes, one module per area; handlers parse and answer, services do the work."""

from __future__ import annotations

from sanic import Blueprint

from handoff.api import (
    auth,
    conversations,
    deliveries,
    directory,
    erasures,
    intake,
    live,
    meta,
)


def blueprints() -> list[Blueprint]:
    return [
        intake.bp,
        deliveries.bp,
        auth.bp,
        conversations.bp,
        directory.bp,
        erasures.bp,
        live.bp,
        meta.bp,
    ]
