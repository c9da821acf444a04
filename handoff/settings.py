"""Typed settings read from the environment and validated once, in the app factory.

Secrets with an empty or placeholder value are refused unless HANDOFF_ENV=dev, where a dev
default is used and logged, so a forgotten `.env` never ships a guessable token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from handoff.queue_settings import QueueSettings

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/handoff.sqlite3"
PLACEHOLDERS = frozenset(
    {"", "change-me", "changeme", "change_me", "secret", "token", "placeholder", "xxx", "todo"}
)
DEV_SECRETS = {
    "api_token": "dev-handoff-token",
    "delivery_token": "dev-delivery-token",
    "erasure_token": "dev-erasure-token",
}
DEV_SECURE_FORM_KEY = "dev-secure-form-key-never-for-real-customer-data"
MIN_SECURE_FORM_KEY = 32
EVENT_SOURCE_KINDS = ("sql", "amqp")
LOGIN_ENV_NAMES = {
    "window_seconds": "LOGIN_WINDOW_SECONDS",
    "failures_per_account": "LOGIN_FAILURES_PER_ACCOUNT",
    "failures_per_address": "LOGIN_FAILURES_PER_ADDRESS",
    "hash_workers": "PASSWORD_HASH_WORKERS",
}
RETENTION_MODES = ("delete", "anonymise")
LIVE_SCHEMES = ("redis", "rediss", "unix")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the environment variable."""


@dataclass(frozen=True)
class EventSource:
    """Where Rasa's events come from: `sql:<sqlalchemy url>` or an `amqp(s)://` broker URL."""

    kind: str
    url: str

    @classmethod
    def parse(cls, value: str) -> EventSource:
        scheme = urlsplit(value).scheme
        if scheme in ("amqp", "amqps"):
            return cls("amqp", value)
        if scheme == "sql" and value.startswith("sql:") and len(value) > len("sql:"):
            return cls("sql", resolve_sqlite_path(value[len("sql:") :]))
        raise SettingsError(
            f"EVENT_SOURCE {value!r}: expected 'sql:<database url>' or 'amqp://user:pass@host/'"
        )


def resolve_sqlite_path(url: str) -> str:
    """A relative SQLite path is taken relative to the repository root, whatever the cwd."""
    prefix, sep, path = url.partition(":///")
    if (
        not sep
        or not prefix.startswith("sqlite")
        or path.startswith("/")
        or path in ("", ":memory:")
    ):
        return url
    return f"{prefix}:///{REPO_ROOT / path}"


def async_database_url(url: str) -> str:
    """`url` with this service's async driver (aiosqlite, asyncpg), SQLite paths resolved."""
    scheme, sep, rest = url.partition("://")
    dialect = scheme.partition("+")[0]
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    if not sep or dialect not in drivers:
        raise SettingsError(f"DATABASE_URL {url!r}: expected a sqlite:// or postgresql:// URL")
    return resolve_sqlite_path(f"{drivers[dialect]}://{rest}")


@dataclass(frozen=True)
class LoginLimits:
    """Login throttling (a sliding window of failures, counted in the store so every instance
    sees the same numbers) and the thread pool that hashes passwords off the event loop."""

    window_seconds: int = 15 * 60
    failures_per_account: int = 5  # a successful login resets the account's count
    failures_per_address: int = 20  # across all accounts tried from one client address
    hash_workers: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LoginLimits:
        defaults = cls()
        return cls(
            **{
                name: _int(env, env_name, getattr(defaults, name))
                for name, env_name in LOGIN_ENV_NAMES.items()
            }
        )


@dataclass(frozen=True)
class KpiSettings:
    """KPI refresh, alert rounds, the volume spike detector and the alert webhook
    (docs/kpis.md, docs/alerts.md)."""

    refresh_seconds: int = 60
    alert_seconds: int = 300  # SLA and volume alerts are evaluated every 5 minutes
    sla_warning_ratio: float = 0.8  # "approaching": this share of a target has elapsed
    spike_factor: float = 3.0  # the last window's rate over the seasonal baseline
    spike_min_volume: int = 20  # handoffs in the window before a spike can alert
    spike_window_minutes: int = 15
    spike_weeks: int = 4  # same weekday and hour, this many weeks back
    webhook_url: str = ""  # Slack-compatible incoming webhook; empty: no alert is sent out
    webhook_secret: str = ""  # HMAC-SHA256 key for X-Lumen-Signature
    business_hours_path: str = str(REPO_ROOT / "bot" / "welcome.yml")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KpiSettings:
        defaults = cls()
        try:
            return cls(
                refresh_seconds=_int(env, "KPI_REFRESH_SECONDS", defaults.refresh_seconds),
                alert_seconds=_int(env, "ALERT_CHECK_SECONDS", defaults.alert_seconds),
                sla_warning_ratio=float(env.get("SLA_WARNING_RATIO") or 0.8),
                spike_factor=float(env.get("SPIKE_FACTOR") or 3.0),
                spike_min_volume=_int(env, "SPIKE_MIN_VOLUME", defaults.spike_min_volume),
                spike_window_minutes=_int(env, "SPIKE_WINDOW_MINUTES", 15),
                spike_weeks=_int(env, "SPIKE_BASELINE_WEEKS", defaults.spike_weeks),
                webhook_url=env.get("ALERT_WEBHOOK_URL", "").strip(),
                webhook_secret=env.get("ALERT_WEBHOOK_SECRET", ""),
                business_hours_path=env.get("BUSINESS_HOURS_PATH") or defaults.business_hours_path,
            )
        except ValueError as error:
            if isinstance(error, SettingsError):
                raise
            raise SettingsError(
                f"SLA_WARNING_RATIO and SPIKE_FACTOR must be numbers: {error}"
            ) from None

    def validated(self) -> KpiSettings:
        for name, value in vars(self).items():
            if isinstance(value, int | float) and value <= 0:
                raise SettingsError(f"KPI setting {name} must be a positive number")
        if not 0 < self.sla_warning_ratio < 1:
            raise SettingsError("SLA_WARNING_RATIO must be between 0 and 1")
        if self.webhook_url and len(self.webhook_secret.strip()) < 16:
            raise SettingsError(
                "ALERT_WEBHOOK_SECRET must be at least 16 characters when ALERT_WEBHOOK_URL is set"
            )
        return self


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    api_token: str = ""
    session_ttl_minutes: int = 12 * 60
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    delivery_url: str = "http://127.0.0.1:5005"
    delivery_token: str = ""
    sla_warning_minutes: int = 2
    sla_check_seconds: float = 15.0
    event_source: EventSource | None = None
    env: str = "production"
    host: str = "127.0.0.1"
    port: int = 8000
    request_max_size: int = 1024 * 1024  # the largest body: intake (transcripts), delivery batches
    json_body_max_bytes: int = 64 * 1024  # the agent API's small JSON bodies
    login_body_max_bytes: int = 4 * 1024
    login: LoginLimits = LoginLimits()
    session_cleanup_seconds: float = 300.0  # how often expired sessions are deleted
    http_retries: int = 3
    http_backoff_seconds: float = 0.5
    brand_name: str = "Lumen Home"  # how notices to customers name the company
    pii_rules_path: str = str(REPO_ROOT / "bot" / "pii.yml")
    public_url: str = "http://127.0.0.1:8000"  # how customers reach the secure form pages
    secure_form_key: str = ""  # encrypts secure form submissions (var/secrets.env)
    secure_form_ttl_minutes: int = 30
    retention_days: int = 0  # 0: transcripts are kept until someone erases them
    retention_mode: str = "anonymise"
    retention_check_minutes: float = 60.0
    # Bearer token of the bot's erasure endpoint; empty: customer erasure is refused (503).
    erasure_token: str = ""
    erasure_retry_seconds: float = 30.0
    kpis: KpiSettings = KpiSettings()
    # Outbound webhooks (handoff/services/webhooks.py): per-attempt timeout, how often the
    # sender looks for due deliveries, the backoff (doubling from base to max) and for how long
    # a delivery is retried before it is given up (an admin can still redeliver it).
    webhook_sender: bool = True  # False (WEBHOOK_SENDER=off): this instance sends none itself
    webhook_timeout_seconds: float = 5.0
    webhook_poll_seconds: float = 1.0
    webhook_backoff_seconds: float = 10.0
    webhook_max_backoff_seconds: float = 30 * 60.0
    webhook_retry_hours: float = 24.0
    csat_policy_path: str = str(REPO_ROOT / "bot" / "csat.yml")  # CSAT eligibility (YAML)
    csat_check_seconds: int = 5  # how often due surveys are started (one instance at a time)
    # reopen windows and silence limits per topic (handoff/thread_policy.py)
    thread_policy_path: str = str(REPO_ROOT / "handoff" / "threads.yml")
    thread_check_seconds: float = 300.0  # the automatic resolution timer's round
    # CRM lookup for the console (handoff/services/crm.py); no URL: the panel says so.
    crm_lookup_url: str = ""
    crm_token: str = ""
    crm_timeout_seconds: float = 3.0
    crm_cache_seconds: float = 60.0
    crm_fields: str = ""  # "Label=dotted.path, …"; empty: name, plan, open_orders, lifetime_value
    queue: QueueSettings = field(default_factory=QueueSettings)  # presence, assignment
    # Suggested responses (handoff/services/suggestions.py): how often resolved conversations
    # are mined (one instance) and each instance's index catches up with the store.
    suggestion_index_seconds: float = 15.0
    # Live fan-out between instances (handoff/live.py): a redis:// URL, or None (in-process).
    live_redis_url: str | None = None
    live_channel: str = "handoff:live"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        source = env.get("EVENT_SOURCE", "").strip()
        return cls(
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            api_token=env.get("HANDOFF_API_TOKEN", ""),
            session_ttl_minutes=_int(env, "SESSION_TTL_MINUTES", 12 * 60),
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005"),
            rasa_token=env.get("RASA_TOKEN") or None,
            delivery_url=env.get("DELIVERY_URL", "http://127.0.0.1:5005"),
            delivery_token=env.get("DELIVERY_TOKEN", ""),
            sla_warning_minutes=_int(env, "SLA_WARNING_MINUTES", 2),
            sla_check_seconds=_int(env, "SLA_CHECK_SECONDS", 15),
            event_source=EventSource.parse(source) if source else None,
            env=env.get("HANDOFF_ENV", "production"),
            host=env.get("HANDOFF_HOST", "127.0.0.1"),
            port=_int(env, "HANDOFF_PORT", 8000),
            brand_name=env.get("BRAND_NAME", "").strip() or "Lumen Home",
            login=LoginLimits.from_env(env),
            pii_rules_path=env.get("PII_RULES_PATH") or str(REPO_ROOT / "bot" / "pii.yml"),
            public_url=(env.get("PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            secure_form_key=env.get("SECURE_FORM_KEY", ""),
            secure_form_ttl_minutes=_int(env, "SECURE_FORM_TTL_MINUTES", 30),
            retention_days=_int(env, "RETENTION_DAYS", 0),
            retention_mode=env.get("RETENTION_MODE", "").strip().lower() or "anonymise",
            erasure_token=env.get("ERASURE_TOKEN", ""),
            kpis=KpiSettings.from_env(env),
            webhook_sender=env.get("WEBHOOK_SENDER", "on").strip().lower() != "off",
            webhook_timeout_seconds=_int(env, "WEBHOOK_TIMEOUT_SECONDS", 5),
            webhook_retry_hours=_int(env, "WEBHOOK_RETRY_HOURS", 24),
            csat_policy_path=env.get("CSAT_POLICY_PATH") or str(REPO_ROOT / "bot" / "csat.yml"),
            csat_check_seconds=_int(env, "CSAT_CHECK_SECONDS", 5),
            thread_policy_path=env.get("THREAD_POLICY_PATH")
            or str(REPO_ROOT / "handoff" / "threads.yml"),
            thread_check_seconds=_int(env, "THREAD_CHECK_SECONDS", 300),
            crm_lookup_url=env.get("CRM_LOOKUP_URL", "").strip(),
            crm_token=env.get("CRM_TOKEN", ""),
            crm_timeout_seconds=_int(env, "CRM_TIMEOUT_SECONDS", 3),
            crm_cache_seconds=_int(env, "CRM_CACHE_SECONDS", 60),
            crm_fields=env.get("CRM_FIELDS", ""),
            queue=_queue(env),
            live_redis_url=env.get("LIVE_REDIS_URL", "").strip() or None,
            live_channel=env.get("LIVE_CHANNEL", "").strip() or "handoff:live",
            suggestion_index_seconds=_int(env, "SUGGESTION_INDEX_SECONDS", 15),
        )

    def validated(self) -> Settings:
        """These settings checked, with dev defaults filled in when HANDOFF_ENV=dev."""
        changes: dict[str, Any] = {}
        for name, env_name in (
            ("api_token", "HANDOFF_API_TOKEN"),
            ("delivery_token", "DELIVERY_TOKEN"),
        ):
            value = getattr(self, name)
            if value.strip().lower() not in PLACEHOLDERS:
                continue
            if self.env != "dev":
                raise SettingsError(
                    f"{env_name} is empty or a placeholder ({value!r}); set a random secret"
                    " (or HANDOFF_ENV=dev for local development)"
                )
            changes[name] = DEV_SECRETS[name]
            logger.warning("HANDOFF_ENV=dev: %s uses the dev default %r", env_name, changes[name])
        erasure_token = self.erasure_token.strip().lower()
        if erasure_token in PLACEHOLDERS and (erasure_token or self.env == "dev"):
            if self.env != "dev":
                raise SettingsError(
                    f"ERASURE_TOKEN is a placeholder ({self.erasure_token!r}); set a random"
                    " secret, or leave it empty to refuse customer erasure"
                )
            changes["erasure_token"] = DEV_SECRETS["erasure_token"]
        changes["secure_form_key"] = self._secure_form_key()
        for name in (
            "session_ttl_minutes",
            "sla_warning_minutes",
            "sla_check_seconds",
            "port",
            "secure_form_ttl_minutes",
            "webhook_timeout_seconds",
            "webhook_poll_seconds",
            "webhook_backoff_seconds",
            "webhook_max_backoff_seconds",
            "webhook_retry_hours",
            "csat_check_seconds",
            "suggestion_index_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name.upper()} must be a positive number")
        for name, value in vars(self.login).items():
            if value <= 0:
                raise SettingsError(f"{LOGIN_ENV_NAMES[name]} must be a positive number")
        if self.retention_days < 0:
            raise SettingsError("RETENTION_DAYS must be 0 (keep transcripts) or more")
        if problems := self.queue.problems():
            raise SettingsError("; ".join(problems))
        if self.retention_mode not in RETENTION_MODES:
            raise SettingsError(
                f"RETENTION_MODE {self.retention_mode!r}: expected one of"
                f" {', '.join(RETENTION_MODES)}"
            )
        changes["kpis"] = self.kpis.validated()
        if self.live_redis_url and urlsplit(self.live_redis_url).scheme not in LIVE_SCHEMES:
            raise SettingsError(
                f"LIVE_REDIS_URL {self.live_redis_url!r}: expected a redis:// or rediss:// URL"
            )
        return replace(self, database_url=async_database_url(self.database_url), **changes)

    def _secure_form_key(self) -> str:
        """Without a key, secure forms are refused (503) unless HANDOFF_ENV=dev."""
        key = self.secure_form_key.strip()
        if key.lower() in PLACEHOLDERS:
            if self.env == "dev":
                return DEV_SECURE_FORM_KEY
            logger.warning("SECURE_FORM_KEY is not set: secure form links are refused")
            return ""
        if len(key) < MIN_SECURE_FORM_KEY:
            raise SettingsError(
                f"SECURE_FORM_KEY must be at least {MIN_SECURE_FORM_KEY} characters"
                " (e.g. openssl rand -hex 24)"
            )
        return key


def _queue(env: Mapping[str, str]) -> QueueSettings:
    try:
        return QueueSettings.from_env(env)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
