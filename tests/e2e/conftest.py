"""Fixtures that start the trained bot, the action server and an intake stand-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.processes import Process, free_port
from harness.stack import (
    MODEL,
    action_server,
    handoff_cli,
    handoff_env,
    handoff_service,
    rasa_server,
    rules_file,
    train_model,
)
from tests.e2e.channels import LoopThread
from tests.e2e.clients import Conversation, IntakeThread
from tools.simulator.graph_api import GraphApiStandIn

__all__ = ["MODEL", "rules_file"]  # benchmarks/connectors_turn.py imports them from here


@pytest.fixture(scope="session")
def model() -> Path:
    """The bot's model, trained by `make train` only if data or config changed."""
    return train_model()


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


@dataclass(frozen=True)
class Product:
    """Every process of the product, the channels' Graph API replaced by a local stand-in."""

    rasa_url: str
    handoff_url: str
    graph: GraphApiStandIn
    agent_email: str = "dana@lumen.example"
    agent_password: str = "e2e-dana-password"
    workdir: Path | None = None  # the processes' SQLite files


@pytest.fixture(scope="module")
def product_env() -> dict[str, str]:
    """Settings of the handoff service on top of the shipped ones; a module overrides this
    fixture to change them for its own `product`."""
    return {}


@pytest.fixture(scope="module")
def product(
    tmp_path_factory: pytest.TempPathFactory, model: Path, product_env: dict[str, str]
) -> Iterator[Product]:
    workdir = tmp_path_factory.mktemp("product")
    graph = GraphApiStandIn(access_token=None)
    LoopThread().run(graph.start())
    rasa_port, action_port, handoff_port = free_port(), free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    handoff_url = f"http://127.0.0.1:{handoff_port}"
    env = {**handoff_env(handoff_port, workdir, rasa_url, api_token="test-token"), **product_env}
    handoff_cli(env, "migrate")
    handoff_cli(
        env, "create-admin", "--email", Product.agent_email, "--name", "Dana",
        "--password", Product.agent_password,
    )  # fmt: skip
    rules = rules_file(workdir / "welcome.yml", open_now=True)
    processes: list[Process] = []
    try:
        for process in (
            handoff_service(env, workdir),
            action_server(action_port, workdir, handoff_url, rules),
            rasa_server(
                rasa_port,
                action_port,
                workdir,
                model,
                graph_url=f"{graph.url}/v21.0",
                handoff_url=handoff_url,
                handoff_token="test-token",
            ),
        ):
            processes.append(process)
            process.start()
        yield Product(rasa_url, handoff_url, graph, workdir=workdir)
    finally:  # also when one of them does not come up
        for process in reversed(processes):
            process.stop()
