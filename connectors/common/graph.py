"""The one Graph API client both Meta channels use (WhatsApp Cloud API, Messenger Send API).

Imports nothing from Rasa or sanic. One aiohttp session per client (opened on first use in the
running event loop, closed by `close()` when the server stops); the access token travels in the
`Authorization` header, never in a URL. Rate limits, server errors and an unreachable Graph API
are retried (`outbound.retry`, honouring `Retry-After`); anything else is raised at once
as `GraphApiError` with Meta's error code and title.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from outbound.retry import with_retries

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
# Throughput / pair rate limits and the generic "too many calls" codes of the Graph API.
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
MEDIA_CHUNK_BYTES = 64 * 1024
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")


@dataclass
class GraphApiError(Exception):
    """A call the Graph API refused (or could not take, for `transient` ones)."""

    http_status: int
    code: int | None
    title: str
    details: str | None = None
    retry_after: float | None = None
    service: str = "Graph API"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        details = f": {self.details}" if self.details else ""
        return f"{self.service} error {self.code} (HTTP {self.http_status}) {self.title}{details}"

    @property
    def transient(self) -> bool:
        """Worth retrying later: rate limits, server errors, no answer at all."""
        return self.code in RATE_LIMIT_CODES or self.http_status == 429 or self.http_status >= 500


def error_from_response(
    http_status: int, body: Any, retry_after: str | None, service: str = "Graph API"
) -> GraphApiError:
    found = body.get("error") if isinstance(body, dict) else None
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = error.get("code")
    data = error.get("error_data")
    error_data: dict[str, Any] = data if isinstance(data, dict) else {}
    title = _CODE_PREFIX.sub("", str(error.get("message") or f"HTTP {http_status}"))
    return GraphApiError(
        http_status=http_status if http_status != 200 else 502,
        code=code if isinstance(code, int) else None,
        title=title,
        details=error_data.get("details"),
        retry_after=_seconds(retry_after),
        service=service,
    )


@dataclass(frozen=True)
class MediaDownload:
    """A media file being read from Meta: its type, size if known, and its bytes in chunks."""

    mime_type: str
    size: int | None
    chunks: AsyncIterator[bytes]


class GraphClient:
    """`post` a JSON body to a Graph API edge, `download` a media file; one session."""

    service = "Graph API"

    def __init__(
        self,
        access_token: str,
        graph_url: str = DEFAULT_GRAPH_URL,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 15.0,
    ) -> None:
        self.graph_url = graph_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._session_loop = loop
        return self._session

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `{graph_url}/{path}`; Meta's JSON answer, or `GraphApiError`."""
        return await self._retried(f"{self.service} POST /{path}", lambda: self._post(path, body))

    async def get(self, path: str) -> dict[str, Any]:
        return await self._retried(f"{self.service} GET /{path}", lambda: self._get(path))

    async def download(self, url: str, max_bytes: int, authorized: bool = True) -> MediaDownload:
        """Open a media URL (with the token when `authorized`); refuses (413) what is larger
        than `max_bytes`."""
        headers = self._headers if authorized else {}
        answer = await self._retried(f"{self.service} media", lambda: self._open(url, headers))
        size = answer.content_length
        if size is not None and size > max_bytes:
            answer.release()
            raise GraphApiError(413, None, f"the file has {size} bytes", service=self.service)
        return MediaDownload(
            mime_type=answer.content_type or "application/octet-stream",
            size=size,
            chunks=_chunks(answer, max_bytes, self.service),
        )

    async def _retried(self, what: str, call: Any) -> Any:
        return await with_retries(
            call,
            what=what,
            attempts=self._attempts,
            backoff_seconds=self._backoff,
            retryable=lambda error: isinstance(error, GraphApiError) and error.transient,
        )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", f"{self.graph_url}/{path}", body)

    async def _get(self, path: str) -> dict[str, Any]:
        return await self._json("GET", f"{self.graph_url}/{path}", None)

    async def _json(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            async with self._http().request(
                method, url, json=body, headers=self._headers
            ) as answer:
                try:
                    data = await answer.json(content_type=None)
                except ValueError:
                    data = None
                status, retry_after = answer.status, answer.headers.get("Retry-After")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._unreachable(error) from error
        if status == 200 and isinstance(data, dict) and "error" not in data:
            return data
        raise error_from_response(status, data, retry_after, self.service)

    async def _open(self, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        try:
            answer = await self._http().get(url, headers=headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._unreachable(error) from error
        if answer.status != 200:
            try:
                data = await answer.json(content_type=None)
            except ValueError:
                data = None
            finally:
                answer.release()
            raise error_from_response(
                answer.status, data, answer.headers.get("Retry-After"), self.service
            )
        return answer

    def _unreachable(self, error: BaseException) -> GraphApiError:
        # No repr of the error: a URL in it could carry a token.
        return GraphApiError(
            503,
            None,
            f"{self.service} could not be reached ({type(error).__name__})",
            service=self.service,
        )


async def _chunks(
    answer: aiohttp.ClientResponse, max_bytes: int, service: str
) -> AsyncIterator[bytes]:
    read = 0
    try:
        async for chunk in answer.content.iter_chunked(MEDIA_CHUNK_BYTES):
            read += len(chunk)
            if read > max_bytes:
                raise GraphApiError(413, None, "the file is too large", service=service)
            yield chunk
    finally:
        answer.release()


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
