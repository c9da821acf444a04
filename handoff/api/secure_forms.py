"""Secure form routes: the agents' API and the customers' public form page.

The page is plain HTML with no script; its one style block carries a per-response nonce, so the
Content-Security-Policy allows nothing else. It is never cached, never framed and sends no
referrer (the token is in its URL).
"""

from __future__ import annotations

import html
import secrets
from string import Template

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse
from sanic.response import html as html_response

from handoff.api.guard import body, requires
from handoff.roles import Role
from handoff.services.secure_forms import PENDING, RECEIVED, SUBMITTED, Field, FormPage

api = Blueprint("secure_forms", url_prefix="/api/v1")
public = Blueprint("secure_form_page")
NO_STORE = {"Cache-Control": "no-store"}


@api.post("/conversations/<conversation_id:str>/secure-forms")
@requires(Role.AGENT)
async def create(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request, required=("kind",))
    service = request.app.ctx.secure_forms
    created = await service.create(
        conversation_id, request.ctx.agent, data["kind"], data.get("label")
    )
    return json(created, status=201)


@api.get("/conversations/<conversation_id:str>/secure-forms")
@requires(Role.AGENT)
async def listing(request: Request, conversation_id: str) -> HTTPResponse:
    forms = await request.app.ctx.secure_forms.forms_of(conversation_id)
    return json({"forms": forms})


@api.post("/secure-forms/<form_id:str>/reveal")
@requires(Role.AGENT)
async def reveal(request: Request, form_id: str) -> HTTPResponse:
    revealed = await request.app.ctx.secure_forms.reveal(form_id, request.ctx.agent)
    return json(revealed, headers=NO_STORE)


@public.get("/forms/<token:str>")
async def show(request: Request, token: str) -> HTTPResponse:
    return page(await request.app.ctx.secure_forms.page(token))


@public.post("/forms/<token:str>")
async def submit(request: Request, token: str) -> HTTPResponse:
    fields = request.form  # first value of each field; None for a body that is not a form
    answers = {name: str(fields.get(name) or "") for name in fields} if fields else {}
    return page(await request.app.ctx.secure_forms.submit(token, answers))


_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>$title</title>
<style nonce="$nonce">
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin:0 0 .75rem}label{display:block;margin:.9rem 0 .25rem;font-weight:600}
input,textarea{box-sizing:border-box;width:100%;padding:.55rem;font:inherit;
border:1px solid #9aa3b2;border-radius:4px}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font:inherit;border:0;border-radius:4px;
background:#2453a6;color:#fff}.error{color:#a61b1b;margin:.25rem 0 0}
.note{color:#4a5263;font-size:.9rem}
</style>
</head>
<body><main>
$content
</main></body>
</html>
""")

_MESSAGES = {
    RECEIVED: (
        200,
        "Thank you",
        "We received it, securely. You can close this page and go back to the chat.",
    ),
    SUBMITTED: (
        410,
        "This link was already used",
        "Nothing more was stored. If you need to send something else, ask the agent in the chat.",
    ),
    "expired": (
        410,
        "This link has expired",
        "Nothing was sent. Ask the agent in the chat for a new link.",
    ),
    "unknown": (
        404,
        "This link does not work",
        "It may have been used already or mistyped. Ask the agent in the chat for a new link.",
    ),
}


def page(state: FormPage) -> HTTPResponse:
    nonce = secrets.token_urlsafe(16)
    if state.status == PENDING and state.kind is not None:
        status = 400 if state.errors else 200
        title = f"Send your {state.kind.what} securely"
        content = _form(state, title)
    else:
        status, title, text = _MESSAGES.get(state.status, _MESSAGES["unknown"])
        content = f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    document = _PAGE.substitute(title=html.escape(title), nonce=nonce, content=content)
    return html_response(document, status=status, headers=_headers(nonce))


def _form(state: FormPage, title: str) -> str:
    errors = state.errors or {}
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        '<p class="note">Only the agent helping you sees this. It is not added to the chat.</p>',
        '<form method="post" autocomplete="on">',
    ]
    for field in state.fields:
        parts.append(_input(field, errors.get(field.name)))
    parts.append('<button type="submit">Send securely</button></form>')
    return "\n".join(parts)


def _input(field: Field, error: str | None) -> str:
    name = html.escape(field.name)
    attributes = (
        f'id="{name}" name="{name}" maxlength="{field.max_length}" required '
        f'autocomplete="{html.escape(field.autocomplete)}"'
    )
    control = (
        f'<textarea {attributes} rows="5"></textarea>'
        if field.multiline
        else f'<input {attributes} type="text">'
    )
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f'<label for="{name}">{html.escape(field.label)}</label>{control}{problem}'


def _headers(nonce: str) -> dict[str, str]:
    return {
        **NO_STORE,
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
