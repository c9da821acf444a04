"""`python -m handoff`: migrate, then serve on HANDOFF_HOST:HANDOFF_PORT in one process."""

from __future__ import annotations

import asyncio
import logging

from customer_texts import load_texts_cached
from handoff.app import create_app
from handoff.db import create_engine
from handoff.migrate import upgrade
from handoff.pii import MaskingFilter
from handoff.settings import Settings


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    settings = Settings.from_env().validated()
    load_texts_cached()  # a mistake in the customer notices stops the start, not a claim
    asyncio.run(_migrate(settings))
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False)


if __name__ == "__main__":
    main()
