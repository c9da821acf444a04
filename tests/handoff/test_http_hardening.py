"""What every HTTP answer carries and refuses: console files without 500s or escapes, security
headers and a strict CSP on the console, no caching of API answers, per-endpoint body limits,
405 with Allow."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from yarl import URL

from handoff.api.meta import CONSOLE_DIR, console_file
from handoff.errors import NotFound
from harness.handoff_data import handoff_body, make_agent, make_conversation
from tests.handoff.conftest import API_TOKEN

ONE_STORE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # HTTP-only


async def raw_get(client, path: str) -> tuple[int, dict[str, str], str]:
    """GET `path` exactly as written (no client-side normalising of `..` or escapes)."""
    async with client.http.get(URL(client.base_url + path, encoded=True)) as answer:
        return answer.status, dict(answer.headers), await answer.text()


@ONE_STORE
@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/x/",
        "/console/..%2fapp.py",
        "/console/%2e%2e%2fsettings.py",
        "/console/%2e%2e/%2e%2e/pyproject.toml",
        "/console/....//app.py",
        "/console/%00",
        "/console/index.html%00.js",
        "/console/.",
        "/console/" + "a" * 5000,
        "/console/%ff%fe",
        "/console/nothing-here.js",
    ],
)
async def test_no_console_path_fails_or_leaves_the_folder(client, path):
    status, headers, text = await raw_get(client, path)
    assert status == 404, text
    assert headers["Content-Type"].startswith("application/json")


@ONE_STORE
async def test_console_files_are_served(client):
    status, headers, text = await raw_get(client, "/console/console.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert text == (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")


@ONE_STORE
async def test_console_pages_carry_a_strict_policy(client):
    for path in ("/", "/console/console.js", "/console/console.css"):
        status, headers, _ = await raw_get(client, path)
        assert status == 200
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page: inline scripts, inline styles,
    event handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        names = dict(attrs)
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> block")
        self.found += [
            f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")
        ]


def test_the_console_page_has_no_inline_code():
    parser = InlineCode()
    parser.feed(Path(CONSOLE_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.found == []
    script = (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")
    for blocked in ('setAttribute("style"', "innerHTML", "eval(", "new Function"):
        assert blocked not in script


@ONE_STORE
async def test_api_answers_with_personal_data_are_never_cached(client, sessions):
    agent = await make_agent(sessions, teams=("billing",))
    conversation = await make_conversation(sessions)
    login = await client.http.post(
        client.base_url + "/api/v1/auth/login",
        json={"email": agent.email, "password": agent.password},
    )
    assert login.status == 200 and login.headers["Cache-Control"] == "no-store"
    for path in ("/api/v1/me", "/api/v1/queue", f"/api/v1/conversations/{conversation['id']}"):
        async with client.http.get(
            client.base_url + path, headers={"Authorization": f"Bearer {agent.token}"}
        ) as answer:
            assert answer.status == 200
            assert answer.headers["Cache-Control"] == "no-store"


@ONE_STORE
async def test_a_login_body_over_its_limit_gets_413(client, settings):
    padding = "x" * settings.login_body_max_bytes
    answer = await client.post(
        "/api/v1/auth/login", json={"email": "a@b.example", "password": padding}
    )
    assert answer.status == 413
    assert answer.body["error"] == "payload_too_large"
    assert str(settings.login_body_max_bytes) in answer.body["message"]


@ONE_STORE
async def test_a_chunked_body_over_the_limit_gets_413(client, settings):
    async def chunks():
        for _ in range(settings.login_body_max_bytes // 1024 + 2):
            yield b" " * 1024

    async with client.http.post(
        client.base_url + "/api/v1/auth/login",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    ) as answer:
        assert answer.status == 413


@ONE_STORE
async def test_agent_api_bodies_are_small_and_intake_takes_long_transcripts(
    client, sessions, settings
):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)
    note = await client.post(
        f"/api/v1/conversations/{conversation['id']}/notes",
        json={"text": "x" * settings.json_body_max_bytes},
        token=agent.token,
    )
    assert note.status == 413
    transcript = handoff_body()["transcript"] * 500  # well over the agent API's limit
    body = handoff_body(
        transcript=[{**line, "message_id": f"m{n}"} for n, line in enumerate(transcript)]
    )
    intake = await client.post(
        "/api/v1/handoffs", json=body, token=API_TOKEN, headers={"Idempotency-Key": "long-one"}
    )
    assert intake.status == 201, intake.body


@ONE_STORE
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/me", "GET"),
        ("GET", "/api/v1/auth/login", "POST"),
        ("PUT", "/health", "GET"),
    ],
)
async def test_405_names_the_allowed_methods(client, method, path, allowed):
    async with client.http.request(method, client.base_url + path) as answer:
        assert answer.status == 405
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {allowed}
        assert (await answer.json())["error"] == "method_not_allowed"


@ONE_STORE
async def test_an_intake_body_over_the_service_limit_gets_413(client, settings):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            client.base_url + "/api/v1/handoffs",
            data=b"[" + b"1," * settings.request_max_size + b"1]",
            headers={
                "Authorization": f"Bearer {API_TOKEN}",
                "Content-Type": "application/json",
                "Idempotency-Key": "too-big",
            },
        ) as answer,
    ):
        assert answer.status == 413


@examples(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.sampled_from(["..", "../app.py", "./index.html", "/etc/passwd"]))
def test_any_console_path_is_a_file_in_the_folder_or_not_found(path: str) -> None:
    try:
        found = console_file(path)
    except NotFound:
        return
    assert found.parent == CONSOLE_DIR and found.is_file()
