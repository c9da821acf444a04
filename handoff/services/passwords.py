"""Argon2 hashing and verification in a bounded thread pool, never on the event loop.

Argon2 is built to be slow (tens of milliseconds and tens of MiB per call); run on the loop,
a handful of concurrent logins would stall every other request. argon2-cffi releases the GIL
while it hashes, so the pool's threads work while the loop keeps serving; `workers` bounds how
many hashes run at once (and so the memory they take), the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, workers: int = 2) -> None:
        self.hasher = hasher or PasswordHasher()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self.hasher.hash, password
        )

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; without a hash (unknown account) the same work is done
        against a dummy hash, so the answer takes as long either way."""
        checked = password_hash or await self._dummy()
        matches = await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, checked, password
        )
        return matches and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_hex(8))
        return self._dummy_hash
