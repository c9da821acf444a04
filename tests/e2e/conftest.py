"""Fixtures that start the trained bot, the action server and an intake stand-in."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.e2e.stack import (
    ROOT,
    Conversation,
    IntakeThread,
    Process,
    action_server,
    free_port,
    rasa_server,
)

MODEL = ROOT / "models/care.tar.gz"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(scope="session")
def model() -> Path:
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


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def intake() -> Iterator[IntakeThread]:
    service = IntakeThread()
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def action_port() -> int:
    return free_port()


@pytest.fixture
def actions(
    workdir: Path, action_port: int, intake: IntakeThread
) -> Iterator[Callable[[bool], Process]]:
    """Starts the action server with the team open or closed now; stopped after the test."""
    started: list[Process] = []

    def start(open_now: bool = True) -> Process:
        rules = rules_file(workdir / f"welcome-{open_now}.yml", open_now)
        process = action_server(action_port, workdir, intake.url, rules).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def rasa(workdir: Path, action_port: int, model: Path) -> Iterator[str]:
    port = free_port()
    process = rasa_server(port, action_port, workdir, model).start()
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.fixture
def customer(rasa: str, request: pytest.FixtureRequest) -> Conversation:
    return Conversation(rasa, sender=f"e2e-{request.node.name}")
