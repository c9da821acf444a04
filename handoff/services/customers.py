"""The customer's history: one customer record across channels (docs/handoff-service.md).

A conversation is linked to a customer by its identities: the channel's sender id, the WhatsApp
phone number, and the account id, email or order reference triage collected. Identities already
owned by several customers prove they are one person: the records are merged into the oldest.
An agent merges two records by naming an identity of the other one.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.values import WHATSAPP
from handoff import views
from handoff.db import affected_rows, insert_for
from handoff.errors import Invalid, NotFound
from handoff.models import (
    Assignment,
    Conversation,
    CsatSurvey,
    Customer,
    CustomerConversation,
    CustomerIdentity,
)
from handoff.services.auth import Principal
from handoff.services.views import load_row
from handoff.states import Action

TRIAGE = "triage"
MAX_IDENTITY = 320
_ACCOUNT = re.compile(r"^ACC-?\d{6}$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\d{7,15}$")
_NOT_A_REFERENCE = {"", "unknown"}


def identity_of(text: str) -> tuple[str, str] | None:
    """The kind and canonical value of a reference an agent or triage gave; None when empty."""
    value = re.sub(r"\s+", "", text)
    if value.lower() in _NOT_A_REFERENCE:
        return None
    if _EMAIL.match(value):
        return "email", value.lower()
    if _ACCOUNT.match(value):
        return "account", f"ACC-{value[-6:]}"
    if _PHONE.match(value):
        return "phone", "+" + value.lstrip("+")
    return "order", value.upper()


def identities_of(row: Conversation) -> list[tuple[str, str]]:
    """What the conversation tells about its customer (nothing once it is anonymised)."""
    found: list[tuple[str, str]] = []
    if row.customer_id:
        found.append(("sender", f"{row.channel or '-'}:{row.customer_id}"))
        if row.channel == WHATSAPP and _PHONE.match(row.customer_id):
            found.append(("phone", "+" + row.customer_id.lstrip("+")))
    if row.triage_reference and (reference := identity_of(row.triage_reference)):
        found.append(reference)
    return list(dict.fromkeys(found))


def _matching(pairs: list[tuple[str, str]]) -> Any:
    return or_(*(and_(CustomerIdentity.kind == k, CustomerIdentity.value == v) for k, v in pairs))


async def _owners(session: AsyncSession, pairs: list[tuple[str, str]]) -> list[str]:
    if not pairs:
        return []
    query = (
        select(Customer.id)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
        .where(_matching(pairs))
        .group_by(Customer.id, Customer.created_at)
        .order_by(Customer.created_at, Customer.id)
    )
    return list(await session.scalars(query))


async def _merge(session: AsyncSession, source: str, target: str, by: str) -> None:
    """Move the source customer's identities and conversations to the target; drop the source."""
    await session.execute(
        update(CustomerIdentity)
        .where(CustomerIdentity.customer_id == source)
        .values(customer_id=target)
    )
    await session.execute(
        update(CustomerConversation)
        .where(CustomerConversation.customer_id == source)
        .values(customer_id=target, linked_by=by)
    )
    await session.execute(delete(Customer).where(Customer.id == source))


async def link(session: AsyncSession, conversation_pk: str, by: str = TRIAGE) -> str:
    """Link the conversation to its customer (created, found, or merged from several); its id."""
    row = await load_row(session, conversation_pk)
    pairs = identities_of(row)
    current = await session.get(CustomerConversation, conversation_pk)
    owners = await _owners(session, pairs)
    if current is not None and current.customer_id not in owners:
        owners.insert(0, current.customer_id)
    if owners:
        target = owners[0]
        for other in owners[1:]:
            await _merge(session, other, target, by)
    else:
        customer = Customer()
        session.add(customer)
        await session.flush()
        target = customer.id
    for kind, value in pairs:
        await session.execute(
            insert_for(session, CustomerIdentity)
            .values(customer_id=target, kind=kind, value=value)
            .on_conflict_do_nothing(index_elements=["kind", "value"])
        )
    if current is None:
        session.add(
            CustomerConversation(conversation_id=conversation_pk, customer_id=target, linked_by=by)
        )
    await session.flush()
    return target


async def drop_identities_of(session: AsyncSession, conversation_pks: Any) -> None:
    """Delete the identities these conversations carry (before a customer's erasure deletes
    them), even where the customer keeps other conversations."""
    rows = await session.scalars(select(Conversation).where(Conversation.id.in_(conversation_pks)))
    pairs = [pair for row in rows for pair in identities_of(row)]
    if pairs:
        await session.execute(delete(CustomerIdentity).where(_matching(pairs)))


async def forget(session: AsyncSession, conversation_pks: Any) -> int:
    """Unlink conversations whose customer details are going (erasure, retention) and delete the
    customers left without any conversation, their identities with them; how many were deleted."""
    await session.execute(
        delete(CustomerConversation).where(
            CustomerConversation.conversation_id.in_(conversation_pks)
        )
    )
    linked = select(CustomerConversation.customer_id)
    return await affected_rows(session, delete(Customer).where(Customer.id.not_in(linked)))


def _conversation(
    row: Conversation, handoffs: int, survey: CsatSurvey | None, current: str
) -> views.JSON:
    satisfaction = None
    if survey is not None:
        satisfaction = {"score": survey.score, "scale": survey.scale, "comment": survey.comment}
    return {
        "id": row.id,
        "current": row.id == current,
        "channel": row.channel,
        "status": row.status,
        "team": row.team,
        "tags": list(row.tags),
        "topic": row.triage_topic,
        "reference": row.triage_reference,
        "created_at": views.iso(row.created_at),
        "resolved_at": views.iso(row.resolved_at),
        "resolution": row.resolution,
        "handoffs": handoffs,
        "satisfaction": satisfaction,
    }


async def history(session: AsyncSession, customer_id: str, current: str) -> views.JSON:
    """The customer with their identities and every conversation, newest first."""
    identities = await session.scalars(
        select(CustomerIdentity)
        .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind != "sender")
        .order_by(CustomerIdentity.kind, CustomerIdentity.value)
    )
    rows = list(
        await session.scalars(
            select(Conversation)
            .join(CustomerConversation, CustomerConversation.conversation_id == Conversation.id)
            .where(CustomerConversation.customer_id == customer_id)
            .order_by(Conversation.created_at.desc(), Conversation.id)
        )
    )
    ids = [row.id for row in rows]
    handoffs: dict[str, int] = dict(
        (
            await session.execute(
                select(Assignment.conversation_id, func.count())
                .where(
                    Assignment.conversation_id.in_(ids), Assignment.action == Action.INTAKE.value
                )
                .group_by(Assignment.conversation_id)
            )
        )
        .tuples()
        .all()
    )
    surveys: dict[str, CsatSurvey] = {}
    answered = select(CsatSurvey).where(
        CsatSurvey.conversation_id.in_(ids), CsatSurvey.status == "answered"
    )
    for survey in await session.scalars(answered.order_by(CsatSurvey.answered_at)):
        surveys[survey.conversation_id] = survey  # the latest answer wins
    return {
        "id": customer_id,
        "identities": [{"kind": i.kind, "value": i.value} for i in identities],
        "conversations": [
            _conversation(row, handoffs.get(row.id, 0), surveys.get(row.id), current)
            for row in rows
        ],
    }


class CustomerService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def of_conversation(self, conversation_pk: str) -> views.JSON:
        """The history of the conversation's customer; a conversation stored before customer
        records existed (or never handed off) is linked on its first view."""
        async with self.sessions.begin() as session:
            customer_id = await link(session, conversation_pk)
            return await history(session, customer_id, conversation_pk)

    async def merge(
        self, agent: Principal, conversation_pk: str, body: dict[str, Any]
    ) -> views.JSON:
        """Merge the customer owning the identity in `body["identity"]` into this conversation's."""
        if unknown := sorted(set(body) - {"identity"}):
            raise Invalid(f"Field {unknown[0]!r} is not known; send only 'identity'.")
        text = body.get("identity")
        if not isinstance(text, str) or len(text) > MAX_IDENTITY:
            raise Invalid(f"Field 'identity' must be a text of at most {MAX_IDENTITY} characters.")
        pair = identity_of(text)
        if pair is None:
            raise Invalid("Field 'identity' must name an account id, email, phone or reference.")
        async with self.sessions.begin() as session:
            target = await link(session, conversation_pk)
            owners = await _owners(session, [pair])
            if not owners:
                raise NotFound(f"No customer has the {pair[0]} {pair[1]!r}.", "customer_not_found")
            if owners[0] != target:
                await _merge(session, owners[0], target, agent.id)
            return await history(session, target, conversation_pk)
