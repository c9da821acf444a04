"""Start the real processes of the product for whole-product tests.

Only the standard library and PyYAML (a dependency of both environments) are imported here, so
the browser tests in `.venv-handoff` can start the bot in `.venv-bot` with the same functions.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from harness.processes import ROOT, Process

BOT_BIN = ROOT / ".venv-bot/bin"  # Rasa and the action server, whichever venv runs the tests
HANDOFF_PYTHON = ROOT / ".venv-handoff/bin/python"  # the service's own environment
MODEL = ROOT / "models/care.tar.gz"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def train_model() -> Path:
    """The bot's model, trained by `make train` only if data or config changed."""
    subprocess.run(["make", "-s", "train"], cwd=ROOT, check=True)
    return MODEL


def rules_file(path: Path, open_now: bool) -> Path:
    """The shipped welcome rules with a team that is open around the clock, or closed now."""
    config = yaml.safe_load((ROOT / "bot/welcome.yml").read_text())
    if open_now:
        weekly = {day: ["00:00-24:00"] for day in WEEKDAYS}
    else:
        later = datetime.now(ZoneInfo("Europe/London")) + timedelta(days=3)
        weekly = {WEEKDAYS[later.weekday()]: ["09:00-10:00"]}
    for schedule in config["schedules"].values():
        schedule["weekly"] = weekly
        schedule["holidays"] = []
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def base_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        **extra,
    }


def action_server(port: int, workdir: Path, intake_url: str, rules: Path) -> Process:
    env = base_env(
        HANDOFF_URL=intake_url,
        HANDOFF_API_TOKEN="test-token",
        HANDOFF_OUTBOX_PATH=str(workdir / "outbox.sqlite3"),
        WELCOME_RULES_PATH=str(rules),
    )
    return Process(
        [str(BOT_BIN / "python"), "-m", "actions.server", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/health",
        workdir / "actions.log",
    )


def handoff_env(port: int, workdir: Path, rasa_url: str, api_token: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'handoff.sqlite3'}",
        "EVENT_SOURCE": f"sql:sqlite:///{workdir / 'events.sqlite3'}",
        "HANDOFF_API_TOKEN": api_token,
        "DELIVERY_URL": rasa_url,
        "DELIVERY_TOKEN": CHANNEL_SECRETS["DELIVERY_TOKEN"],
        "ERASURE_TOKEN": CHANNEL_SECRETS["ERASURE_TOKEN"],
        "RASA_URL": rasa_url,
        "RASA_TOKEN": RASA_TOKEN,
        "HANDOFF_PORT": str(port),
    }


def handoff_service(env: dict[str, str], workdir: Path) -> Process:
    """The handoff service, migrated and with its CLI run first by the caller."""
    url = f"http://127.0.0.1:{env['HANDOFF_PORT']}/health"
    return Process([str(HANDOFF_PYTHON), "-m", "handoff"], env, url, workdir / "handoff.log")


def handoff_cli(env: dict[str, str], *args: str) -> str:
    """Run `python -m handoff.cli` with the service's settings; what it printed."""
    command = [str(HANDOFF_PYTHON), "-m", "handoff.cli", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"handoff.cli {args} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


RASA_TOKEN = "e2e-rasa-token"  # Rasa's HTTP API (`?token=`)
# Channel credentials for bot/credentials.yml; the Graph API is a local stand-in.
CHANNEL_SECRETS = {
    "DELIVERY_TOKEN": "e2e-delivery-token",
    "ERASURE_TOKEN": "e2e-erasure-token",
    "WHATSAPP_VERIFY_TOKEN": "e2e-wa-verify",
    "WHATSAPP_APP_SECRET": "e2e-wa-secret",
    "WHATSAPP_ACCESS_TOKEN": "e2e-wa-access",
    "WHATSAPP_PHONE_NUMBER_ID": "100200300400500",
    "MESSENGER_VERIFY_TOKEN": "e2e-fb-verify",
    "MESSENGER_APP_SECRET": "e2e-fb-secret",
    "MESSENGER_PAGE_ACCESS_TOKEN": "e2e-fb-access",
}


def rasa_server(
    port: int,
    action_port: int,
    workdir: Path,
    model: Path,
    graph_url: str = "http://127.0.0.1:9",
    rest_channel: bool = True,
    handoff_url: str = "",
    handoff_token: str = "",
) -> Process:
    """Rasa started as `scripts/run.sh` starts it (scripts/rasa-server.sh). `rest_channel`: the
    shipped channels plus Rasa's REST channel, which the tests' customers talk through;
    `handoff_url`: where the channels report delivery statuses (none: kept local)."""
    credentials = ROOT / "bot/credentials.yml"
    if rest_channel:
        channels = yaml.safe_load(credentials.read_text())
        credentials = workdir / "credentials-with-rest.yml"
        credentials.write_text(yaml.safe_dump({"rest": None, **channels}))
    env = base_env(
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{action_port}/webhook",
        RASA_TRACKER_DB=str(workdir / "tracker.sqlite3"),
        RASA_EVENTS_DB=str(workdir / "events.sqlite3"),
        CONNECTORS_STATE_DB=str(workdir / "connectors.sqlite3"),
        HANDOFF_OUTBOX_PATH=str(workdir / "outbox.sqlite3"),  # the action server's
        GRAPH_API_URL=graph_url,
        RASA_BIN=str(BOT_BIN / "rasa"),
        RASA_TOKEN=RASA_TOKEN,
        RASA_CREDENTIALS=str(credentials),
        HANDOFF_URL=handoff_url,
        HANDOFF_API_TOKEN=handoff_token,
        **CHANNEL_SECRETS,
    )
    args = [str(ROOT / "scripts/rasa-server.sh"), "--model", str(model), "--port", str(port)]
    health = f"http://127.0.0.1:{port}/status?token={RASA_TOKEN}"
    return Process(args, env, health, workdir / "rasa.log")
