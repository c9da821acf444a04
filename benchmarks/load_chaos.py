"""Bounded chaos for the load generator on the scaled topology (loopback only).

In turn: kill -9 one Rasa server, one action server and the handoff instance that consumes the
event broker, each by the processes listening on its port (`scripts/run-scaled.sh` starts it
again); then restart RabbitMQ and PostgreSQL with the machine's own commands (the servers must
reconnect by themselves). The time to recover is from the kill or the stop until the server
answers again: its health check, `rabbitmq-diagnostics check_port_connectivity` or `pg_isready`.
Both services are started again at the end whatever happened, as other work on the machine
needs them."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.processes import answers

RECOVERY_LIMIT = 600.0  # seconds; a guard only
_PG_CLUSTER = ("pg_ctlcluster", "--skip-systemctl-redirect")


@dataclass(frozen=True)
class Target:
    name: str
    disrupt: Callable[[], list[int]]  # returns the pids it killed (none for a service restart)
    answering: Callable[[], bool]


@dataclass
class Kill:
    target: str
    pids: list[int]
    at: float  # seconds after the load started
    recovered_after: float | None  # None: not back within RECOVERY_LIMIT


def listening_pids(port: int) -> list[int]:
    """The processes holding the loopback listening socket of `port` (Sanic workers share it)."""
    shown = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", shown)})


def _server(name: str, port: int, path: str) -> Target:
    killed: list[int] = []

    def disrupt() -> list[int]:
        killed[:] = listening_pids(port)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        return list(killed)

    def answering() -> bool:
        return listening_pids(port) != killed and answers(f"http://127.0.0.1:{port}{path}")

    return Target(name, disrupt, answering)


def _succeeds(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _pg_cluster(action: str) -> list[str]:
    version = os.path.basename(sorted(glob.glob("/etc/postgresql/*"))[-1])
    return [*_PG_CLUSTER, version, "main", action]


def _restart_rabbitmq() -> list[int]:
    subprocess.run(["rabbitmqctl", "stop"], capture_output=True, check=False)
    subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, check=True)
    return []


def _restart_postgresql() -> list[int]:
    subprocess.run(_pg_cluster("restart"), capture_output=True, check=True)
    return []


TARGETS = (
    _server("Rasa server 1", 5101, "/"),
    _server("action server 1", 5151, "/health"),
    _server("handoff instance 1 (the broker's consumer)", 8101, "/health"),
    Target(
        "RabbitMQ (restarted)",
        _restart_rabbitmq,
        lambda: _succeeds("rabbitmq-diagnostics", "-q", "check_port_connectivity"),
    ),
    Target(
        "PostgreSQL (restarted, fast shutdown)",
        _restart_postgresql,
        lambda: _succeeds("pg_isready", "-q", "-h", "127.0.0.1"),
    ),
)


def ensure_services() -> None:
    """RabbitMQ and PostgreSQL running again, whatever the chaos run left."""
    if not _succeeds("rabbitmq-diagnostics", "-q", "ping"):
        subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, check=False)
    if not _succeeds("pg_isready", "-q", "-h", "127.0.0.1"):
        subprocess.run(_pg_cluster("start"), check=False)


async def run(start_after: float, every: float, started: float) -> list[Kill]:
    """One disruption per target, `every` seconds apart, the first `start_after` seconds in."""
    kills = []
    await asyncio.sleep(start_after)
    try:
        for target in TARGETS:
            disrupted = time.perf_counter()
            pids = await asyncio.to_thread(target.disrupt)
            recovered = None
            while time.perf_counter() - disrupted < RECOVERY_LIMIT:
                await asyncio.sleep(0.2)
                if await asyncio.to_thread(target.answering):
                    recovered = time.perf_counter() - disrupted
                    break
            kills.append(Kill(target.name, pids, disrupted - started, recovered))
            await asyncio.sleep(every)
    finally:
        await asyncio.to_thread(ensure_services)
    return kills


def report(kills: list[Kill]) -> str:
    lines = ["chaos (kill -9, restarted by run-scaled.sh; services restarted in place):"]
    for kill in kills:
        back = "not back" if kill.recovered_after is None else f"{kill.recovered_after:.1f} s"
        killed = f" (pids {kill.pids})" if kill.pids else ""
        lines.append(f"  {kill.at:6.1f} s  {kill.target}{killed}: answering again {back}")
    return "\n".join(lines)
