"""Secure form links: an agent asks for card details, an id or a secret without the customer
typing it into the chat (docs/handoff-service.md, "Secure forms").

The link (`{PUBLIC_URL}/forms/<token>`) goes out as the agent's reply through the normal
delivery path. Only the token's SHA-256 is stored. The customer's answers are sealed with
AES-GCM (key derived from SECURE_FORM_KEY with HKDF, the form's id as associated data) and the
token is consumed in the same conditional UPDATE, so a second submission or an expired link
stores nothing. The transcript only gets a system line saying that the form was submitted; the
answers never reach the transcript, the channel or Rasa. Only the agent the conversation is
assigned to can reveal them, and each reveal is recorded in the conversation's history.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.pii import luhn_valid
from contracts.transcript import handoff_key
from handoff import views
from handoff.db import affected_rows
from handoff.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from handoff.lines import Line
from handoff.live import Broadcaster
from handoff.models import Agent, SecureForm, new_id, utc_now
from handoff.repositories import History, Messages
from handoff.services.auth import Principal
from handoff.services.conversations import ConversationService
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import load_row
from handoff.states import Status

PENDING, SUBMITTED, EXPIRED = "pending", "submitted", "expired"
RECEIVED = "received"  # the page right after this submission consumed the link
MAX_LABEL = 100
_NONCE = 12
_HKDF_INFO = b"handoff secure forms v1"
_EXPIRY = re.compile(r"^(0[1-9]|1[0-2]) ?/ ?(\d{2}|\d{4})$")


class SecureFormsDisabled(ServiceError):
    status, code = 503, "secure_forms_disabled"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    max_length: int
    autocomplete: str = "off"
    multiline: bool = False
    check: Callable[[str], str | None] | None = None  # the problem with a value, if any


@dataclass(frozen=True)
class Kind:
    """What an agent can ask for; `what` completes "please send your …"."""

    what: str
    fields: tuple[Field, ...]


def _card_number(value: str) -> str | None:
    digits = re.sub(r"[ -]", "", value)
    if not digits.isdecimal() or not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return "This is not a valid card number."
    return None


def _expiry(value: str) -> str | None:
    return None if _EXPIRY.match(value) else "Write the expiry date as MM/YY."


KINDS: dict[str, Kind] = {
    "card": Kind(
        "card details",
        (
            Field("card_number", "Card number", 23, "cc-number", check=_card_number),
            Field("card_expiry", "Expiry date (MM/YY)", 7, "cc-exp", check=_expiry),
            Field("card_name", "Name on the card", 100, "cc-name"),
        ),
    ),
    "national_id": Kind("ID number", (Field("national_id", "ID number", 50),)),
    "text": Kind("answer", (Field("text", "Your answer", 2000, multiline=True),)),
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sealer:
    """AES-256-GCM with a key derived from the configured secret; a fresh nonce per value."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, values: Mapping[str, str], form_id: str) -> bytes:
        nonce = os.urandom(_NONCE)
        plain = json.dumps(dict(values)).encode()
        return nonce + self._aead.encrypt(nonce, plain, form_id.encode())

    def open(self, sealed: bytes, form_id: str) -> dict[str, str]:
        plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], form_id.encode())
        values: dict[str, str] = json.loads(plain)
        return values


@dataclass(frozen=True)
class FormPage:
    """What the public page shows: the form, or why it cannot be used (`problem`)."""

    status: str  # pending | received | submitted (used before) | expired | unknown
    kind: Kind | None = None
    label: str | None = None
    errors: Mapping[str, str] | None = None

    @property
    def fields(self) -> tuple[Field, ...]:
        if self.kind is None:
            return ()
        if self.label and len(self.kind.fields) == 1:
            return (replace(self.kind.fields[0], label=self.label),)
        return self.kind.fields


class SecureFormService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        conversations: ConversationService,
        public_url: str,
        secret: str,
        ttl: timedelta,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.conversations = conversations
        self.public_url = public_url.rstrip("/")
        self.sealer = Sealer(secret) if secret else None
        self.ttl = ttl

    def _sealer(self) -> Sealer:
        if self.sealer is None:
            raise SecureFormsDisabled(
                "Secure forms are off: SECURE_FORM_KEY is not set on the handoff service."
            )
        return self.sealer

    async def create(
        self, conversation_pk: str, agent: Principal, kind: Any, label: Any
    ) -> dict[str, Any]:
        """Store a pending form and send its link as the agent's reply; 201 body."""
        self._sealer()
        if not isinstance(kind, str) or kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}.", "invalid_kind")
        if label is not None and (
            not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL
        ):
            raise Invalid(f"label must be text of 1..{MAX_LABEL} characters.", "invalid_label")
        token = secrets.token_urlsafe(32)
        now = utc_now()
        async with self.sessions.begin() as session:
            row = await load_row(session, conversation_pk)
            _check_owner(row.status, row.assigned_agent_id, agent)
            form = SecureForm(
                conversation_id=conversation_pk,
                requested_by_agent_id=agent.id,
                token_hash=token_hash(token),
                kind=kind,
                label=label.strip() if label else None,
                created_at=now,
                expires_at=now + self.ttl,
            )
            session.add(form)
            await session.flush()
            view = form_view(form, agent.name, now)
        try:
            message = await self.conversations.reply(
                conversation_pk, agent, self._invitation(KINDS[kind], token)
            )
        except ServiceError:
            async with self.sessions.begin() as session:  # the link never went out
                await session.delete(await session.get(SecureForm, view["id"]))
            raise
        return {"form": view, "message": message}

    def _invitation(self, kind: Kind, token: str) -> str:
        minutes = int(self.ttl.total_seconds() // 60)
        return (
            f"Please send your {kind.what} through this secure form, not in the chat. "
            f"The link works once, for {minutes} minutes: {self.public_url}/forms/{token}"
        )

    async def forms_of(self, conversation_pk: str) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            await load_row(session, conversation_pk)
            rows = await session.execute(
                select(SecureForm, Agent.name)
                .outerjoin(Agent, Agent.id == SecureForm.requested_by_agent_id)
                .where(SecureForm.conversation_id == conversation_pk)
                .order_by(SecureForm.created_at)
            )
            now = utc_now()
            return [form_view(form, name, now) for form, name in rows]

    async def page(self, token: str) -> FormPage:
        async with self.sessions() as session:
            form = await _by_token(session, token)
        if form is None:
            return FormPage("unknown")
        status = _status(form, utc_now())
        return FormPage(status, KINDS.get(form.kind), form.label)

    async def submit(self, token: str, answers: Mapping[str, str]) -> FormPage:
        """Seal the answers and consume the token in one conditional UPDATE."""
        page = await self.page(token)
        if page.status != PENDING:
            return page
        sealer = self._sealer()  # only a key removed after the link went out gets here
        values = {f.name: (answers.get(f.name) or "").strip() for f in page.fields}
        errors = _problems(page.fields, values)
        if errors:
            return FormPage(PENDING, page.kind, page.label, errors)
        now = utc_now()
        async with unit_of_work(self.sessions, self.live) as work:
            session = work.session
            form = await _by_token(session, token)
            if form is None:
                return FormPage("unknown")
            consumed = await affected_rows(
                session,
                update(SecureForm)
                .where(
                    SecureForm.id == form.id,
                    SecureForm.status == PENDING,
                    SecureForm.expires_at > now,
                )
                .values(status=SUBMITTED, submitted_at=now, sealed=sealer.seal(values, form.id))
                .execution_options(synchronize_session=False),
            )
            if consumed != 1:  # used or expired meanwhile
                return FormPage(EXPIRED if form.expires_at <= now else SUBMITTED)
            await work.announce_message(await self._note_submission(session, form, now))
        return FormPage(RECEIVED)

    async def _note_submission(self, session: AsyncSession, form: SecureForm, at: datetime) -> str:
        """A transcript line without the content; never delivered, so never in Rasa."""
        row = await load_row(session, form.conversation_id)
        message_id = new_id()
        what = KINDS[form.kind].what
        line = Line(
            conversation_id=row.conversation_id,
            dedupe_key=handoff_key(message_id),
            author_type="system",
            text=f"The customer submitted the secure form ({what}).",
            created_at=at,
        )
        await Messages(session).add_line(form.conversation_id, line, id=message_id)
        return message_id

    async def reveal(self, form_id: str, agent: Principal) -> dict[str, Any]:
        """The answers, for the agent the conversation is assigned to (even supervisors get 403:
        the data is for the person serving the customer)."""
        sealer = self._sealer()
        async with self.sessions.begin() as session:
            form = await session.get(SecureForm, form_id)
            if form is None:
                raise NotFound(f"No secure form {form_id!r}.", "secure_form_not_found")
            row = await load_row(session, form.conversation_id)
            if row.assigned_agent_id != agent.id:
                raise Forbidden(
                    "Only the agent the conversation is assigned to can see this.", "not_owner"
                )
            if form.status != SUBMITTED or form.sealed is None:
                raise Conflict("The customer has not submitted this form.", "not_submitted")
            History(session).record(
                form.conversation_id, "secure_form_revealed", by_agent_id=agent.id, note=form.id
            )
            name = await session.scalar(
                select(Agent.name).where(Agent.id == form.requested_by_agent_id)
            )
            view = form_view(form, name, utc_now())
            values = sealer.open(form.sealed, form.id)
        labels = {f.name: f.label for f in FormPage(SUBMITTED, KINDS[form.kind], form.label).fields}
        view["values"] = [
            {"name": key, "label": labels.get(key, key), "value": value}
            for key, value in values.items()
        ]
        return view


def form_view(form: SecureForm, requested_by: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": form.id,
        "kind": form.kind,
        "label": form.label,
        "status": _status(form, now),
        "requested_by": {"id": form.requested_by_agent_id, "name": requested_by},
        "created_at": views.iso(form.created_at),
        "expires_at": views.iso(form.expires_at),
        "submitted_at": views.iso(form.submitted_at),
    }


def _status(form: SecureForm, now: datetime) -> str:
    if form.status == PENDING and form.expires_at <= now:
        return EXPIRED
    return form.status


def _check_owner(status: str, owner: str | None, agent: Principal) -> None:
    if status != Status.ASSIGNED.value:
        raise Conflict(f"The conversation is {status}; claim it first.", "not_assigned")
    if owner != agent.id:
        raise Forbidden("Only the agent who owns the conversation can do this.", "not_owner")


def _problems(fields: tuple[Field, ...], values: Mapping[str, str]) -> dict[str, str]:
    errors = {}
    for field in fields:
        value = values[field.name]
        if not value:
            errors[field.name] = "Please fill this in."
        elif len(value) > field.max_length:
            errors[field.name] = f"At most {field.max_length} characters."
        elif field.check is not None and (problem := field.check(value)):
            errors[field.name] = problem
    return errors


async def _by_token(session: AsyncSession, token: str) -> SecureForm | None:
    if not token or len(token) > 100:
        return None
    query = select(SecureForm).where(SecureForm.token_hash == token_hash(token))
    return await session.scalar(query)
