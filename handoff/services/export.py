"""A conversation's transcript exported as JSON, CSV or a printable HTML page, with or without
the internal notes (docs/integrations.md). Every export is recorded in the conversation's
history (who, which format, whether notes were in it).

CSV cells that a spreadsheet would run as a formula (starting with = + - @ or a control
character) get a leading apostrophe; the HTML page escapes every value and allows no script.
"""

from __future__ import annotations

import csv
import html
import io
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import Invalid
from handoff.models import utc_now
from handoff.repositories import History
from handoff.services.auth import Principal
from handoff.services.views import load_detail
from handoff.views import JSON, iso

FORMATS = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
CSV_COLUMNS = ("time", "kind", "author_type", "author", "text", "intent", "delivery_status")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
AUTHOR_LABELS = {"customer": "Customer", "bot": "Bot", "system": "System", "agent": "Agent"}


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    body: str
    nonce: str | None = None  # the HTML page's style nonce, for its Content-Security-Policy


def parse_notes(value: str | None) -> bool:
    if value in (None, "", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise Invalid("notes must be true or false.", "invalid_field")


def parse_format(value: str | None) -> str:
    value = value or "json"
    if value not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}.", "invalid_field")
    return value


class ExportService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], brand: str) -> None:
        self.sessions = sessions
        self.brand = brand

    async def transcript(
        self, conversation_pk: str, fmt: str, with_notes: bool, agent: Principal
    ) -> Export:
        async with self.sessions.begin() as session:
            detail = await load_detail(session, conversation_pk)
            History(session).record(
                conversation_pk,
                "transcript_exported",
                by_agent_id=agent.id,
                note=f"{fmt}, {'with' if with_notes else 'without'} internal notes",
            )
        messages = detail.pop("messages")
        notes = detail.pop("notes")
        document: JSON = {
            "exported_at": iso(utc_now()),
            "exported_by": {"id": agent.id, "name": agent.name},
            "conversation": detail,
            "messages": messages,
        }
        if with_notes:
            document["notes"] = notes
        filename = f"conversation-{conversation_pk}.{fmt}"
        if fmt == "json":
            body = json.dumps(document, ensure_ascii=False, indent=2)
            return Export(filename, FORMATS[fmt], body)
        if fmt == "csv":
            return Export(filename, FORMATS[fmt], to_csv(timeline(document)))
        nonce = secrets.token_urlsafe(16)
        return Export(filename, FORMATS[fmt], to_html(document, self.brand, nonce), nonce)


def timeline(document: JSON) -> list[JSON]:
    """Lines and (when exported) notes in time order, each as one row."""
    rows = [
        {
            "time": message["created_at"],
            "kind": "message",
            "author_type": message["author_type"],
            "author": message["author_name"] or AUTHOR_LABELS.get(message["author_type"], ""),
            "text": message["text"],
            "intent": message["intent"],
            "delivery_status": message["delivery_status"],
        }
        for message in document["messages"]
    ]
    rows += [
        {
            "time": note["created_at"],
            "kind": "internal note",
            "author_type": "agent",
            "author": (note["author"] or {}).get("name") or "",
            "text": note["text"],
            "intent": None,
            "delivery_status": None,
        }
        for note in document.get("notes", [])
    ]
    return sorted(rows, key=lambda row: row["time"] or "")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(rows: list[JSON]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheets read the file as UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


_PAGE = Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$policy">
<title>$title</title>
<style nonce="$nonce">
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2733; margin: 2em auto; max-width: 46em; }
h1 { font-size: 20px; margin: 0 0 .2em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dt { color: #5a6675; }
dd { margin: 0; }
ol.lines { list-style: none; padding: 0; }
li { border-top: 1px solid #d5dbe3; padding: .5em 0; break-inside: avoid; }
.who { font-weight: 600; }
.when { color: #5a6675; margin-left: .5em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2em 0 0; }
li.note { background: #fff6cf; padding: .5em; }
li.note .who::before { content: "Internal note · "; }
footer { color: #5a6675; margin-top: 2em; font-size: 12px; }
@media print { body { margin: 0; max-width: none; } }
</style>
</head>
<body>
<h1>$title</h1>
<dl class="facts">
$facts
</dl>
<ol class="lines">
$lines
</ol>
<footer>Exported $exported_at by $exported_by.$notes_remark</footer>
</body>
</html>
"""
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(value: str | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def to_html(document: JSON, brand: str, nonce: str) -> str:
    conversation = document["conversation"]
    customer = conversation["customer"]
    triage = conversation["triage"]
    owner = conversation["assigned_agent"] or {}
    facts = (
        ("Customer", customer["name"] or customer["id"]),
        ("Channel", conversation["channel"]),
        ("Status", conversation["status"]),
        ("Team", conversation["team"]),
        ("Priority", conversation["priority"]["name"]),
        ("Topic", triage["topic"]),
        ("Reference", triage["reference"]),
        ("Owner", owner.get("name")),
        ("Queued", _when(conversation["queued_at"])),
        ("Resolved", _when(conversation["resolved_at"])),
    )
    lines = "\n".join(
        f'<li class="{"note" if row["kind"] == "internal note" else _e(row["author_type"])}">'
        f'<span class="who">{_e(row["author"])}</span>'
        f'<span class="when">{_e(_when(row["time"]))}</span>'
        f'<p class="text">{_e(row["text"])}</p></li>'
        for row in timeline(document)
    )
    title = f"{brand} · conversation with {customer['name'] or customer['id'] or 'a customer'}"
    return _PAGE.substitute(
        policy=_e(page_policy(nonce)),
        title=_e(title),
        nonce=_e(nonce),
        facts="\n".join(
            f"<dt>{_e(label)}</dt><dd>{_e(value) or '—'}</dd>" for label, value in facts
        ),
        lines=lines,
        exported_at=_e(_when(document["exported_at"])),
        exported_by=_e(document["exported_by"]["name"]),
        notes_remark=(" Includes internal notes." if "notes" in document else ""),
    )


def page_policy(nonce: str) -> str:
    return f"default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'"
