"""Customers' media (photos, voice notes, files) fetched through the connector that received them.

The channel credentials stay in the Rasa server process: its connector serves
`GET {DELIVERY_URL}/webhooks/<channel>/media/<media_id>` to holders of `DELIVERY_TOKEN`, and this
client streams the answer on to the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import aiohttp

from handoff.errors import NotFound, Upstream

TIMEOUT_SECONDS = 30.0


class MediaClient:
    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http = http
        self.base_url = url.rstrip("/")
        self.token = token

    @asynccontextmanager
    async def open(self, channel: str, media_id: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """The connector's 200 answer, its body still to be read; NotFound when the channel no
        longer has the file, Upstream when the connector fails or cannot be reached."""
        url = f"{self.base_url}/webhooks/{quote(channel, safe='')}/media/{quote(media_id, safe='')}"
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        try:
            async with self.http.get(url, headers=headers, timeout=timeout) as answer:
                if answer.status == 404:
                    raise NotFound("The channel no longer has this file.", "media_not_found")
                if answer.status != 200:
                    raise Upstream(
                        f"The connector could not fetch the file (HTTP {answer.status}).",
                        "media_unavailable",
                    )
                yield answer
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise Upstream(
                f"The connector could not be reached ({type(error).__name__}).", "media_unavailable"
            ) from None
