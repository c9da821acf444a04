"""Agent and system lines on their way to the customer, and what the channel says about them.

- `DeliverRequest`: the handoff service -> a connector's `POST /webhooks/<channel>/deliver`
  (bearer `DELIVERY_TOKEN`); the answer is 200/202 `{"status": "sent"|"queued",
  "channel_message_id"}` or 4xx/5xx `{"error", "message"}`.
- `StatusReport`: a connector -> the handoff service's `POST /api/v1/deliveries` (bearer
  `HANDOFF_API_TOKEN`), one object or a list of at most `MAX_REPORTS`.

`from_json` checks a received body and raises `ContractError` naming the field; `to_json` is the
body a sender posts. docs/handoff-service.md describes both calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from contracts.channel_windows import MESSAGE_TAGS
from contracts.errors import ContractError
from contracts.values import (
    HUMAN_AUTHORS,
    REPORTED_STATUSES,
    choice,
    each,
    format_time,
    obj,
    optional_text,
    required_time,
    text,
)

MAX_REPORTS = 100
MAX_ERROR_CHARS = 4000
REPORT_TEXT_LIMITS = {"channel": 50, "conversation_id": 255, "channel_message_id": 255}


MAX_TEMPLATE_PARAMETERS = 10
MAX_PARAMETER_CHARS = 1024  # WhatsApp's limit for a body parameter
MAX_TEMPLATE_BUTTONS = 10  # quick-reply buttons of a WhatsApp template
MAX_BUTTON_PAYLOAD_CHARS = 128


@dataclass(frozen=True)
class Template:
    """An approved channel template (WhatsApp) to send instead of free text, its body
    parameters in order; the request's `text` is the filled template as the agent saw it.
    `buttons`: the payloads of the template's quick-reply buttons, in the buttons' order (their
    titles are part of the approved template); a tap comes back as the payload."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> Template:
        body = obj(body, "template")
        parameters = _strings(body, "parameters", MAX_TEMPLATE_PARAMETERS, MAX_PARAMETER_CHARS)
        buttons = _strings(body, "buttons", MAX_TEMPLATE_BUTTONS, MAX_BUTTON_PAYLOAD_CHARS)
        return cls(text(body, "name", 512), text(body, "language", 20), parameters, buttons)

    def to_json(self) -> dict[str, Any]:
        """The body; `buttons` only when there are some."""
        body: dict[str, Any] = {
            "name": self.name,
            "language": self.language,
            "parameters": list(self.parameters),
        }
        if self.buttons:
            body["buttons"] = list(self.buttons)
        return body


def _strings(body: Mapping[str, Any], name: str, most: int, chars: int) -> tuple[str, ...]:
    items = body.get(name, [])
    if not isinstance(items, list) or len(items) > most:
        raise ContractError(f"template.{name}", f"must be a list of at most {most}")
    values = each(
        [{"value": item} for item in items],
        lambda item: text(item, "value", chars),
        f"template.{name}",
    )
    return tuple(values)


@dataclass(frozen=True)
class DeliverRequest:
    """One agent or system line to send. `channel` is None only on the service's side, for a
    conversation without a known channel (it is then not sent); a received one always has it.

    The service decides how the channel's window lets the line go (contracts/channel_windows.py):
    `tag` is the message tag a Messenger reply after 24 hours carries (`HUMAN_AGENT`),
    `template` the WhatsApp template sent when the window is closed."""

    conversation_id: str
    channel: str | None
    message_id: str
    author_type: str  # agent | system
    author_name: str | None
    text: str
    tag: str | None = None
    template: Template | None = None

    @classmethod
    def from_json(cls, body: Any) -> DeliverRequest:
        body = obj(body)
        fields = {name: text(body, name) for name in ("conversation_id", "channel", "message_id")}
        author_type = text(body, "author_type")
        if author_type not in HUMAN_AUTHORS:
            raise ContractError("author_type", "must be 'agent' or 'system'")
        tag = optional_text(body, "tag")
        if tag is not None and tag not in MESSAGE_TAGS:
            raise ContractError("tag", f"must be one of {', '.join(MESSAGE_TAGS)} or null")
        template = body.get("template")
        return cls(
            author_type=author_type,
            author_name=optional_text(body, "author_name") or None,
            text=text(body, "text"),
            tag=tag,
            template=None if template is None else Template.from_json(template),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        """The body; `tag` and `template` only when set."""
        body = {k: v for k, v in asdict(self).items() if k not in ("tag", "template")}
        if self.tag is not None:
            body["tag"] = self.tag
        if self.template is not None:
            body["template"] = self.template.to_json()
        return body


@dataclass(frozen=True)
class StatusReport:
    """What the channel says about a line a connector delivered (`channel_message_id`)."""

    channel: str
    conversation_id: str
    channel_message_id: str
    status: str  # one of REPORTED_STATUSES
    at: datetime
    error: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> StatusReport:
        body = obj(body)
        fields = {
            name: text(body, name, limit)
            for name, limit in (
                ("channel", 50),
                ("conversation_id", 255),
                ("channel_message_id", 255),
            )
        }
        status = choice(body, "status", REPORTED_STATUSES, code="invalid_status")
        error = optional_text(body, "error", MAX_ERROR_CHARS)
        return cls(status=status, at=required_time(body, "at"), error=error, **fields)

    @classmethod
    def list_from_json(cls, body: Any) -> list[StatusReport]:
        """One status object or a non-empty list of at most MAX_REPORTS; all valid or none."""
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, Mapping) for item in items):
            raise ContractError(
                "",
                "The body must be a status object or a non-empty list of them",
                code="malformed_body",
            )
        if len(items) > MAX_REPORTS:
            raise ContractError(
                "", f"At most {MAX_REPORTS} statuses per request", code="too_many_statuses"
            )
        if not isinstance(body, list):
            return [cls.from_json(body)]
        return each(items, cls.from_json, "statuses")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": format_time(self.at)}
