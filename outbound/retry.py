"""The one retry policy of every outbound call: the connectors' Graph API sends and status
reports, the service's calls to the connectors, Rasa and webhooks (`handoff/http.py`), the
actions' survey answers.

Built on `tenacity`: a fixed number of attempts, exponential backoff (doubling from
`backoff_seconds`), a server's `Retry-After` honoured when the error carries one, capped at
`MAX_WAIT_SECONDS`, and one warning per retry naming the call and the error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60.0
T = TypeVar("T")


def _retry_after(error: BaseException | None) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def _waiter(backoff_seconds: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        delay = _retry_after(error)
        if delay is None:
            delay = backoff_seconds * 2 ** (state.attempt_number - 1)
        return min(max(0.0, delay), MAX_WAIT_SECONDS)

    return wait


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    backoff_seconds: float,
    retryable: Callable[[BaseException], bool],
) -> T:
    """Await `call()` up to `attempts` times while it raises a `retryable` error; the last
    error is raised as it is."""

    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s retried in %.1fs after %s", what, wait, error)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=_waiter(backoff_seconds),
        retry=retry_if_exception(retryable),
        before_sleep=log,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise RuntimeError("unreachable: tenacity reraises the last error")  # pragma: no cover


class Backoff:
    """For loops that reconnect for as long as it takes (event sources, the live fan-out):
    exponential delays between retries (initial, 2·initial, … up to maximum), and whether a
    failure is worth a warning: the first of a streak and every tenth, so a source that waits
    for hours (for Rasa's first event, for a broker) does not flood the log."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self._next = initial
        self.failures = 0

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        self.failures += 1
        return delay

    @property
    def log_level(self) -> int:
        """The level for the failure about to be counted by `next_delay`."""
        return logging.WARNING if self.failures % 10 == 0 else logging.DEBUG

    def reset(self) -> None:
        self._next = self._initial
        self.failures = 0
