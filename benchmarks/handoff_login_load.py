"""How the handoff service answers while agents log in: `/health` latency alone and while 20
logins at a time hash their passwords (argon2 with the service's production parameters).

`python -m benchmarks.handoff_login_load [--samples N] [--logins 20]`

The app runs in this process on a free 127.0.0.1 port, on a fresh SQLite store, with one agent.
Idle: N sequential `GET /health`. Under load: rounds of `--logins` concurrent logins (right
password) keep the hashing pool busy, and N sequential `GET /health` are timed while logins are
in flight. Client and server share one event loop and two cores, so the figures include the
client's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import time

import aiohttp

from benchmarks import summary_ms
from benchmarks.store import throwaway_store
from handoff.app import create_app
from handoff.settings import Settings
from harness.service import ApiClient, serving

NOWHERE = "http://127.0.0.1:9"
PASSWORD = "benchmark password"


async def health_ms(client: ApiClient) -> float:
    started = time.perf_counter()
    answer = await client.get("/health")
    if answer.status != 200:
        raise RuntimeError(f"/health answered {answer.status}")
    return time.perf_counter() - started


async def benchmark(samples: int, logins: int) -> None:
    async with throwaway_store("sqlite") as url:
        settings = Settings(
            database_url=url,
            api_token=secrets.token_urlsafe(24),
            delivery_token=secrets.token_urlsafe(24),
            rasa_url=NOWHERE,
            delivery_url=NOWHERE,
            sla_check_seconds=3600,
        )
        app = create_app(settings)
        logging.getLogger("sanic.root").setLevel(logging.WARNING)
        async with serving(app) as base_url, aiohttp.ClientSession() as http:
            client = ApiClient(http, base_url)
            email = "bench@lumen.example"
            await app.ctx.auth.create_agent(email, "Bench", PASSWORD)
            idle = [await health_ms(client) for _ in range(samples)]
            credentials = {"email": email, "password": PASSWORD}
            done, loaded = 0, []
            started = time.perf_counter()
            while len(loaded) < samples:
                batch = [
                    asyncio.ensure_future(client.post("/api/v1/auth/login", json=credentials))
                    for _ in range(logins)
                ]
                while not all(task.done() for task in batch) and len(loaded) < samples:
                    loaded.append(await health_ms(client))
                answers = await asyncio.gather(*batch)
                done += sum(answer.status == 200 for answer in answers)
            elapsed = time.perf_counter() - started
    print(
        f"{samples} /health samples each; logins {logins} at a time, pool of "
        f"{settings.login.hash_workers} hashing threads"
    )
    print(f"{'health, idle':<28} {summary_ms(idle)}")
    print(f"{'health, while logins hash':<28} {summary_ms(loaded)}")
    print(f"logins: {done} succeeded in {elapsed:.1f} s ({done / elapsed:.1f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="health samples (default 200)")
    parser.add_argument("--logins", type=int, default=20, help="concurrent logins (default 20)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(benchmark(args.samples, args.logins))


if __name__ == "__main__":
    main()
