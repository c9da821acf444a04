"""This machine's Redis (127.0.0.1:6379), started the way the machine starts it when it is down."""

from __future__ import annotations

import socket
import subprocess
import time

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    str(REDIS_PORT),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def _answers() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((REDIS_HOST, REDIS_PORT)) == 0


def ensure_redis(seconds: float = 30) -> None:
    """Start Redis if nothing listens on its port; raise if it does not come up in `seconds`."""
    if _answers():
        return
    subprocess.run(REDIS_START, check=True)
    deadline = time.monotonic() + seconds
    while not _answers():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis did not start on {REDIS_HOST}:{REDIS_PORT}")
        time.sleep(0.2)
