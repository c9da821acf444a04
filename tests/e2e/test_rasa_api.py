"""Rasa started as the product starts it (scripts/rasa-server.sh): its HTTP API needs the token,
gives no web page on another origin a CORS allowance, and the shipped channels have no REST
channel. No model is needed for that, so none is loaded (the API then answers 409, not 401)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.processes import free_port
from harness.stack import RASA_TOKEN, rasa_server

pytestmark = pytest.mark.slow

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("rasa-api")
    no_model = workdir / "models"  # an empty folder (a missing one means Rasa's default models/)
    no_model.mkdir()
    port = free_port()
    process = rasa_server(port, free_port(), workdir, no_model, rest_channel=False)
    process.health_url = f"http://127.0.0.1:{port}/"  # /status needs a loaded model
    process.start()
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/status"),
        ("GET", "/conversations/16505551234/tracker"),
        ("POST", "/conversations/16505551234/tracker/events"),
        ("POST", "/conversations/16505551234/trigger_intent"),
        ("POST", "/model/parse"),
    ],
)
@pytest.mark.parametrize("token", [None, "guessed-token"])
def test_the_api_without_the_token_is_401(rasa: str, method: str, path: str, token) -> None:
    params = {"token": token} if token else {}
    answer = requests.request(method, rasa + path, params=params, json={}, timeout=30)
    assert answer.status_code == 401


def test_with_the_token_the_api_answers(rasa: str) -> None:
    answer = requests.get(f"{rasa}/status", params={"token": RASA_TOKEN}, timeout=30)
    assert answer.status_code == 409  # authorised; no model is loaded in this test
    assert "No agent loaded" in answer.json()["message"]


@pytest.mark.parametrize("path", ["/", "/status", "/conversations/16505551234/tracker"])
def test_another_origin_gets_no_cors_allowance(rasa: str, path: str) -> None:
    asked = requests.get(
        rasa + path, params={"token": RASA_TOKEN}, headers={"Origin": EVIL}, timeout=30
    )
    preflight = requests.options(
        rasa + path,
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    for answer in (asked, preflight):
        assert "Access-Control-Allow-Origin" not in answer.headers
        assert "Access-Control-Allow-Credentials" not in answer.headers


def test_the_shipped_channels_have_no_rest_channel(rasa: str) -> None:
    body = {"sender": "16505551234", "message": "hi"}
    answer = requests.post(f"{rasa}/webhooks/rest/webhook", json=body, timeout=30)
    assert answer.status_code == 404


def test_a_body_over_the_global_limit_is_413(rasa: str) -> None:
    answer = requests.post(
        f"{rasa}/webhooks/whatsapp/webhook", data=b"x" * (3 * 1024 * 1024 + 1), timeout=60
    )
    assert answer.status_code == 413


def test_the_script_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    process = rasa_server(free_port(), free_port(), tmp_path, tmp_path / "no-model")
    process.env["RASA_TOKEN"] = ""
    done = subprocess.run(process.args, env=process.env, capture_output=True, check=False)
    assert done.returncode == 2
    assert b"RASA_TOKEN is empty" in done.stderr
