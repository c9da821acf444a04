"""The product as the load generator drives it: `scripts/run-scaled.sh` (or `scripts/run.sh`)
started as a child with throwaway stores, the Graph API pointed at the generator's stand-in, the
test channel secrets, and stopped (and its stores dropped) at the end."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.processes import ROOT, answers, wait_for
from harness.stack import CHANNEL_SECRETS

STARTUP_SECONDS = 600.0  # two Rasa servers loading TensorFlow and the model on 2 busy cores
STOP_SECONDS = 60.0
PG_URL = "postgresql://postgres@127.0.0.1:5432"


@dataclass
class Topology:
    """Where the generator sends customers and where it reads the handoff store afterwards."""

    kind: str  # "scaled" or "embedded"
    public_url: str  # webhooks and web chat
    store_url: str  # the handoff store (SQLAlchemy URL, sync driver)
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    name: str = ""  # scaled: the throwaway databases' and queue's name

    def stop(self) -> None:
        """Stop the script (it stops its children), then drop the throwaway stores."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.kind == "scaled":
            for database in (self.name, f"{self.name}_tracker"):
                _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            queue = f"{self.name}-handoff"
            subprocess.run(["rabbitmqctl", "-q", "delete_queue", queue], capture_output=True)


def start(kind: str, graph_url: str, workdir: Path, sanic_workers: int) -> Topology:
    """Start `kind` and wait until every server of it answers."""
    env = {
        **os.environ,
        **CHANNEL_SECRETS,
        "GRAPH_API_URL": graph_url,
        "SANIC_WORKERS": str(sanic_workers),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    if kind == "scaled":
        name = f"care_load_{secrets.token_hex(4)}"
        env |= {"SCALED_DIR": str(workdir), "SCALED_NAME": name}
        script, logs = "scripts/run-scaled.sh", workdir
        public = "http://127.0.0.1:8080"
        ready = [f"http://127.0.0.1:{port}/" for port in (5101, 5102)]
        ready += [f"http://127.0.0.1:{port}/health" for port in (8101, 8102, 5151, 5152)]
        store = f"{PG_URL}/{name}"
    else:
        name = ""
        store = f"sqlite:///{workdir / 'handoff.sqlite3'}"
        env |= {
            "DATABASE_URL": store,
            "RASA_TRACKER_DB": str(workdir / "rasa-tracker.sqlite3"),
            "RASA_EVENTS_DB": str(workdir / "rasa-events.sqlite3"),
            "CONNECTORS_STATE_DB": str(workdir / "connectors.sqlite3"),
            "HANDOFF_OUTBOX_PATH": str(workdir / "handoff-outbox.sqlite3"),
            "DEMO_LOGINS": str(workdir / "demo-logins.txt"),
        }
        script, logs = "scripts/run.sh", workdir
        public = "http://127.0.0.1:5005"
        ready = [f"{public}/", "http://127.0.0.1:8000/health", "http://127.0.0.1:5055/health"]
    log = (workdir / "topology.log").open("wb")
    process = subprocess.Popen(
        ["bash", script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    topology = Topology(kind, public, store, logs, process, name)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        for url in ready:
            wait_for(
                lambda url=url: process.poll() is not None or answers(url),
                max(1.0, deadline - time.monotonic()),
                f"{url} answering",
            )
            if process.poll() is not None:
                raise RuntimeError(f"{script} stopped (status {process.returncode}); see {logs}")
    except BaseException:
        topology.stop()
        raise
    return topology


def _psql(statement: str) -> None:
    subprocess.run(["psql", "-q", f"{PG_URL}/postgres", "-c", statement], capture_output=True)
