"""Bounded chaos for the load generator on the scaled topology: kill -9, in turn, one Rasa
server, one action server and the handoff instance that consumes the event broker, each by the
processes listening on its port (loopback only); `scripts/run-scaled.sh` starts it again. The
time to recover is from the kill until the server answers its health check again."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass

from harness.processes import answers

TARGETS = (
    ("Rasa server 1", 5101, "/"),
    ("action server 1", 5151, "/health"),
    ("handoff instance 1 (the broker's consumer)", 8101, "/health"),
)
RECOVERY_LIMIT = 600.0  # seconds; a guard only


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


async def run(start_after: float, every: float, started: float) -> list[Kill]:
    """One kill per target, `every` seconds apart, the first `start_after` seconds in."""
    kills = []
    await asyncio.sleep(start_after)
    for target, port, path in TARGETS:
        url = f"http://127.0.0.1:{port}{path}"
        pids = listening_pids(port)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed = time.perf_counter()
        recovered = None
        while time.perf_counter() - killed < RECOVERY_LIMIT:
            await asyncio.sleep(0.2)
            if listening_pids(port) != pids and await asyncio.to_thread(answers, url):
                recovered = time.perf_counter() - killed
                break
        kills.append(Kill(target, pids, killed - started, recovered))
        await asyncio.sleep(every)
    return kills


def report(kills: list[Kill]) -> str:
    lines = ["chaos (kill -9, restarted by run-scaled.sh):"]
    for kill in kills:
        back = "not back" if kill.recovered_after is None else f"{kill.recovered_after:.1f} s"
        lines.append(
            f"  {kill.at:6.1f} s  {kill.target} (pids {kill.pids}): answering again {back}"
        )
    return "\n".join(lines)
