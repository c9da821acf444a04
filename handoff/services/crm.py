"""CRM lookup for the console's side panel (docs/integrations.md).

An operator configures one HTTP GET: a URL template whose placeholders are filled from the
conversation (`{reference}`, `{customer_id}`, `{email}`, `{name}`, `{channel}`), a bearer
token, a timeout, and which fields of the JSON answer to show (`label=dotted.path`). The answer
is cached briefly per URL. Whatever goes wrong, agents get a result with a status
(`unavailable`, `not_found`, `no_key`, `not_configured`), never an error page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import string
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from handoff.models import Conversation, utc_now
from handoff.services.views import load_row
from handoff.views import JSON, iso

logger = logging.getLogger(__name__)

PLACEHOLDERS = ("reference", "customer_id", "email", "name", "channel")
DEFAULT_FIELDS = (
    ("Name", "name"),
    ("Plan", "plan"),
    ("Open orders", "open_orders"),
    ("Lifetime value", "lifetime_value"),
)
MAX_ANSWER_BYTES = 256 * 1024
MAX_VALUE = 300
MAX_ITEMS = 10  # of a list value shown
CACHE_ENTRIES = 1000
FAILURE_CACHE_SECONDS = 10.0  # a CRM that is down is asked again this soon at most
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class CrmSettingsError(ValueError):
    """A CRM setting is wrong; the message names the environment variable."""


@dataclass(frozen=True)
class CrmConfig:
    url_template: str
    token: str = ""
    timeout_seconds: float = 3.0
    cache_seconds: float = 60.0
    fields: tuple[tuple[str, str], ...] = DEFAULT_FIELDS

    @classmethod
    def parse(
        cls,
        url_template: str,
        token: str = "",
        timeout_seconds: float = 3.0,
        cache_seconds: float = 60.0,
        fields: str = "",
    ) -> CrmConfig:
        """Checked settings: CrmSettingsError naming the variable and the problem."""
        names = [name for _, name, _, _ in string.Formatter().parse(url_template) if name]
        unknown = sorted(set(names) - set(PLACEHOLDERS))
        if unknown:
            raise CrmSettingsError(
                f"CRM_LOOKUP_URL: unknown placeholder {{{unknown[0]}}};"
                f" use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        if not names:
            raise CrmSettingsError("CRM_LOOKUP_URL needs a placeholder, e.g. {reference}")
        parts = urlsplit(url_template.replace("{", "").replace("}", ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CrmSettingsError("CRM_LOOKUP_URL must be an http:// or https:// URL")
        if timeout_seconds <= 0 or cache_seconds < 0:
            raise CrmSettingsError("CRM_TIMEOUT_SECONDS must be > 0, CRM_CACHE_SECONDS >= 0")
        return cls(url_template, token, timeout_seconds, cache_seconds, _fields(fields))


def _fields(spec: str) -> tuple[tuple[str, str], ...]:
    """`Label=dotted.path, …` (CRM_FIELDS); empty: the default four."""
    if not spec.strip():
        return DEFAULT_FIELDS
    pairs = []
    for number, item in enumerate(spec.split(","), start=1):
        label, sep, path = item.partition("=")
        if not sep or not label.strip() or not re.fullmatch(r"[\w-]+(\.[\w-]+)*", path.strip()):
            raise CrmSettingsError(
                f"CRM_FIELDS item {number} ({item.strip()!r}): expected Label=dotted.path"
            )
        pairs.append((label.strip(), path.strip()))
    return tuple(pairs)


def keys_of(row: Conversation) -> dict[str, str | None]:
    """The values the URL template can use, from the conversation."""
    customer = row.customer_id or ""
    return {
        "reference": row.triage_reference or None,
        "customer_id": customer or None,
        "email": customer if EMAIL.fullmatch(customer) else None,
        "name": row.customer_name or None,
        "channel": row.channel or None,
    }


def pick(answer: Any, path: str) -> Any:
    """The value at `a.b.0.c` in a JSON answer, or None."""
    value = answer
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def shown(value: Any) -> str | None:
    """A JSON value as the text an agent reads (lists joined, objects compact), cut short."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (int, float, str)):
        text = str(value)
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        text = ", ".join(str(v) for v in value[:MAX_ITEMS])
        if len(value) > MAX_ITEMS:
            text += f" (+{len(value) - MAX_ITEMS} more)"
    elif isinstance(value, list):
        text = f"{len(value)}"
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


class CrmLookup:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        config: CrmConfig | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.config = config
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, JSON]] = OrderedDict()

    async def for_conversation(self, conversation_pk: str) -> JSON:
        async with self.sessions() as session:
            row = await load_row(session, conversation_pk)  # 404 for an unknown conversation
        config = self.config
        if config is None:
            return _result("not_configured", "No CRM lookup is configured.")
        keys = keys_of(row)
        try:
            url = config.url_template.format_map(
                {name: quote(value, safe="") for name, value in keys.items() if value}
            )
        except KeyError as missing:
            return _result("no_key", f"This conversation has no {missing.args[0]} to look up.")
        cached = self._cache.get(url)
        if cached is not None and cached[0] > self.clock():
            return {**cached[1], "cached": True}
        result = await self._fetch(config, url)
        seconds = config.cache_seconds
        if result["status"] == "unavailable":
            seconds = min(seconds, FAILURE_CACHE_SECONDS)
        if seconds > 0:
            self._remember(url, result, seconds)
        return result

    def _remember(self, url: str, result: JSON, seconds: float) -> None:
        self._cache[url] = (self.clock() + seconds, result)
        self._cache.move_to_end(url)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    async def _fetch(self, config: CrmConfig, url: str) -> JSON:
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        try:
            async with self.http.get(
                URL(url, encoded=True),  # as encoded here: an id with "/" stays one value
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.warning("CRM lookup failed: %s", type(error).__name__)
            reason = "timed out" if isinstance(error, asyncio.TimeoutError) else "not reachable"
            return _result("unavailable", f"The CRM is {reason}.")
        if status == 404:
            return _result("not_found", "The CRM has no customer for this conversation.")
        if status != 200:
            logger.warning("CRM lookup answered HTTP %s", status)
            return _result("unavailable", f"The CRM answered HTTP {status}.")
        if len(raw) > MAX_ANSWER_BYTES:
            return _result("unavailable", "The CRM's answer is too large.")
        try:
            answer = json.loads(raw)
        except (ValueError, RecursionError):
            return _result("unavailable", "The CRM's answer is not JSON.")
        fields = [
            {"label": label, "path": path, "value": value}
            for label, path in config.fields
            if (value := shown(pick(answer, path))) is not None
        ]
        if not fields:
            return _result("not_found", "The CRM's answer has none of the configured fields.")
        return {**_result("ok", None), "fields": fields}


def _result(status: str, message: str | None) -> JSON:
    return {
        "status": status,
        "message": message,
        "fields": [],
        "fetched_at": iso(utc_now()),
        "cached": False,
    }
