"""The `connectors.whatsapp.WhatsAppInput` section of credentials.yml, checked once at startup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.shared.exceptions import RasaException

from connectors.common.deliver import DEFAULT_BRAND
from connectors.common.graph import DEFAULT_GRAPH_URL
from connectors.common.inbox import DEFAULT_LEASE_SECONDS
from connectors.common.markers import DEFAULT_BOT_MARKER

REQUIRED_KEYS = ("verify_token", "app_secret", "access_token", "phone_number_id", "deliver_token")
DEFAULT_STATE_PATH = Path("var/connectors.sqlite3")


class WhatsAppConfigError(RasaException):
    """credentials.yml lacks something the WhatsApp connector needs."""


@dataclass(frozen=True)
class WhatsAppSettings:
    verify_token: str
    app_secret: str
    access_token: str
    phone_number_id: str
    deliver_token: str
    graph_url: str = DEFAULT_GRAPH_URL
    bot_marker: str = DEFAULT_BOT_MARKER
    state_path: Path = DEFAULT_STATE_PATH
    brand: str = DEFAULT_BRAND
    inbox_lease_seconds: float = DEFAULT_LEASE_SECONDS  # `connectors.common.inbox`

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppSettings:
        credentials = credentials or {}
        for key in REQUIRED_KEYS:
            value = credentials.get(key)
            if value is None or not str(value).strip():
                raise WhatsAppConfigError(
                    f"The WhatsApp channel needs '{key}' in credentials.yml "
                    f"(under connectors.whatsapp.WhatsAppInput), e.g. from an environment variable."
                )
        optional: dict[str, Any] = {
            key: credentials[key] for key in ("graph_url", "brand") if credentials.get(key)
        }
        if credentials.get("bot_marker") is not None:  # "" turns the marker off
            optional["bot_marker"] = str(credentials["bot_marker"])
        if credentials.get("state_path"):
            optional["state_path"] = Path(credentials["state_path"])
        if credentials.get("inbox_lease_seconds"):
            optional["inbox_lease_seconds"] = float(credentials["inbox_lease_seconds"])
        required: dict[str, Any] = {key: str(credentials[key]) for key in REQUIRED_KEYS}
        return cls(**required, **optional)
