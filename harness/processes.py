"""Free ports and child processes that are ready once they answer, for every test tier and the
benchmarks. Standard library only, so both environments import it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 180.0  # loading TensorFlow and the model on a busy 2-core machine
POLL_SECONDS = 0.2


def free_socket() -> socket.socket:
    """A loopback socket bound to a free port, kept open (no other process can take it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A loopback port free right now (for a child process to listen on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """`condition()`'s first truthy value; AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"{what} not reached within {seconds} s")


def answers(url: str) -> bool:
    """Whether `url` answers with a status below 400."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status < 400)
    except OSError:  # refused or timed out while starting, or an HTTP error status
        return False


@dataclass
class Process:
    """A child process whose output goes to a log file shown when it fails to start; started
    once `health_url` answers. It can be stopped and started again (a restart)."""

    args: list[str]
    env: dict[str, str] | None
    health_url: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    startup_seconds: float | None = None  # None: STARTUP_SECONDS when it starts

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        seconds = self.startup_seconds or STARTUP_SECONDS
        try:
            what = f"{' '.join(self.args[1:])} answering {self.health_url}"
            wait_for(lambda: self._alive() and answers(self.health_url), seconds, what)
        except BaseException:  # never leave a half-started server behind
            self.stop()
            raise
        return self

    def _alive(self) -> bool:
        if self.popen is None or self.popen.poll() is not None:
            raise AssertionError(f"{self.args} exited:\n{self.log_path.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None
