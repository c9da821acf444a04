"""Login throttling: a sliding window of failed logins per account and per client address.

The failures are rows in the store, so several service instances share one count. An account
(the lower-cased email, known or not) is refused for a while after `failures_per_account`
failures within the window, a client address after `failures_per_address` failures across
accounts; a refused attempt is not verified (no hashing) and not counted. A successful login
clears its account's failures (not its address's). The check and the count are not one atomic
step: logins verified at the same moment can pass the limit by at most the hashing pool's size.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.errors import TooManyRequests
from handoff.repositories import LoginFailures
from handoff.settings import LoginLimits

ACCOUNT, ADDRESS = "account", "address"


class LoginThrottle:
    def __init__(self, limits: LoginLimits) -> None:
        self.window = timedelta(seconds=limits.window_seconds)
        self.limits = {ACCOUNT: limits.failures_per_account, ADDRESS: limits.failures_per_address}

    async def check(
        self, session: AsyncSession, account: str, address: str | None, now: datetime
    ) -> None:
        """429 with the seconds until the next attempt is allowed, if either window is full."""
        waits = []
        for scope, subject in _subjects(account, address):
            limit = self.limits[scope]
            latest = await LoginFailures(session).latest(scope, subject, now - self.window, limit)
            if len(latest) >= limit:  # free again when the oldest of these leaves the window
                waits.append((latest[-1] + self.window - now).total_seconds())
        if waits:
            raise TooManyRequests(
                "Too many failed logins; try again later.",
                max(1, math.ceil(max(waits))),
                "login_throttled",
            )

    def failed(
        self, session: AsyncSession, account: str, address: str | None, now: datetime
    ) -> None:
        LoginFailures(session).add(now, _subjects(account, address))

    async def succeeded(self, session: AsyncSession, account: str) -> None:
        await LoginFailures(session).clear(ACCOUNT, account)

    async def forget_old(self, session: AsyncSession, now: datetime) -> int:
        """Delete failures that left the window (they no longer count); how many."""
        return await LoginFailures(session).remove_older(now - self.window)


def _subjects(account: str, address: str | None) -> list[tuple[str, str]]:
    return [(ACCOUNT, account)] + ([(ADDRESS, address)] if address else [])
