"""Pure builders of Cloud API message bodies (`POST /{phone_number_id}/messages`).

Limits from Meta's docs: reply buttons at most 3 (title 20 characters, id 256), list messages at
most 10 rows (title 24, description 72, id 200), interactive body 1024, text body 4096.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
INTERACTIVE_BODY_MAX = 1024
TEXT_BODY_MAX = 4096
LIST_BUTTON_LABEL = "Choose"


def cut(text: str, limit: int) -> str:
    """Shorten to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _envelope(to: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: body,
    }


def text_message(to: str, text: str) -> dict[str, Any]:
    return _envelope(to, "text", {"preview_url": False, "body": cut(text, TEXT_BODY_MAX)})


def image_message(to: str, url: str) -> dict[str, Any]:
    return _envelope(to, "image", {"link": url})


def template_message(
    to: str,
    name: str,
    language: str,
    parameters: Sequence[str] = (),
    buttons: Sequence[str] = (),
) -> dict[str, Any]:
    """An approved template; `parameters` fill its body's {{1}}, {{2}}, … in order, `buttons`
    are the payloads of its quick-reply buttons in order (a tap comes back as a `button`
    message with the payload)."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    components: list[dict[str, Any]] = []
    if parameters:
        values = [{"type": "text", "text": value} for value in parameters]
        components.append({"type": "body", "parameters": values})
    for index, payload in enumerate(buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    if components:
        template["components"] = components
    return _envelope(to, "template", template)


def choice_message(to: str, text: str, options: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Reply buttons for up to 3 options, an interactive list for more (first 10 kept).

    `options` are Rasa buttons (`title`, `payload`); the payload comes back as the reply id.
    """
    body = {"text": cut(text, INTERACTIVE_BODY_MAX)}
    if len(options) <= MAX_REPLY_BUTTONS:
        buttons = [
            {
                "type": "reply",
                "reply": {
                    "id": _option_id(option, BUTTON_ID_MAX),
                    "title": cut(_title(option), BUTTON_TITLE_MAX),
                },
            }
            for option in options
        ]
        return _envelope(
            to, "interactive", {"type": "button", "body": body, "action": {"buttons": buttons}}
        )
    rows = []
    for option in options[:MAX_LIST_ROWS]:
        row = {"id": _option_id(option, ROW_ID_MAX), "title": cut(_title(option), ROW_TITLE_MAX)}
        if len(_title(option)) > ROW_TITLE_MAX:
            # the full title stays readable as the row's description
            row["description"] = cut(_title(option), ROW_DESCRIPTION_MAX)
        rows.append(row)
    action = {"button": LIST_BUTTON_LABEL, "sections": [{"title": "Options", "rows": rows}]}
    return _envelope(to, "interactive", {"type": "list", "body": body, "action": action})


def _title(option: dict[str, Any]) -> str:
    return str(option.get("title") or option.get("payload") or "")


def _option_id(option: dict[str, Any], limit: int) -> str:
    return str(option.get("payload") or option.get("title") or "")[:limit]
