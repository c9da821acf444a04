"""Settings of the agents' queue (docs/agent-queue.md): presence, automatic assignment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSettings:
    # An online agent whose console sockets all dropped is set away after this many seconds.
    away_grace_seconds: float = 60.0
    # An automatically assigned conversation the agent has not answered goes back to the queue
    # after this many seconds (0: never).
    unanswered_seconds: float = 180.0
    # The assignment timer: a round also runs this often, besides on every trigger.
    assign_every_seconds: float = 5.0
    # How often an instance marks its open console sockets as still there; a socket not marked
    # for three periods belongs to an instance that stopped and is dropped.
    heartbeat_seconds: float = 20.0
    default_max_sync: int = 3
    default_max_async: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> QueueSettings:
        defaults = cls()
        values: dict[str, float] = {}
        for name, env_name in ENV_NAMES.items():
            raw = env.get(env_name, "").strip()
            if not raw:
                continue
            try:
                values[name] = float(raw) if "seconds" in name else int(raw)
            except ValueError:
                raise ValueError(f"{env_name} must be a number, got {raw!r}") from None
        merged = {**vars(defaults), **values}
        return cls(**merged)

    def problems(self) -> list[str]:
        """What is wrong, naming the environment variables."""
        wrong = [
            f"{ENV_NAMES[name]} must be positive"
            for name in ("away_grace_seconds", "assign_every_seconds", "heartbeat_seconds")
            if getattr(self, name) <= 0
        ]
        if self.unanswered_seconds < 0:
            wrong.append(f"{ENV_NAMES['unanswered_seconds']} must be 0 (never) or more")
        wrong += [
            f"{ENV_NAMES[name]} must be at least 1"
            for name in ("default_max_sync", "default_max_async")
            if getattr(self, name) < 1
        ]
        return wrong


ENV_NAMES = {
    "away_grace_seconds": "PRESENCE_AWAY_GRACE_SECONDS",
    "unanswered_seconds": "ASSIGNMENT_UNANSWERED_SECONDS",
    "assign_every_seconds": "ASSIGNMENT_EVERY_SECONDS",
    "heartbeat_seconds": "PRESENCE_HEARTBEAT_SECONDS",
    "default_max_sync": "AGENT_MAX_SYNC",
    "default_max_async": "AGENT_MAX_ASYNC",
}
