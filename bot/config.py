"""Settings read once from the environment, with safe defaults; passed down as arguments."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DEALS = PROJECT_ROOT / "data" / "deals.csv"


def is_demo_source(location: str) -> bool:
    """True when the deals are the bundled generated demo file: DEALS_SOURCE (or --data) is not set."""
    try:
        return Path(location).resolve() == BUNDLED_DEALS.resolve()
    except (OSError, ValueError):  # a URL or a name that is no path
        return False


def _ids(text: str | None) -> frozenset[str]:
    """A comma- or space-separated list of Slack IDs; empty means everyone."""
    return frozenset(t for t in (text or "").replace(",", " ").split() if t)


def _prefixed(env, prefix: str) -> dict:
    """PREFIX_SOME_NAME=value -> {"some_name": value}, the empty ones left out."""
    return {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix) and v}


@dataclass(frozen=True)
class Settings:
    deals_source: str = str(BUNDLED_DEALS)
    deals_mapping: str | None = None
    deals_table: str | None = None  # with a database URL as deals_source: a table or view
    deals_query: str | None = None  # ... or a SELECT
    deals_since: str | None = None  # the time window read from a database, Salesforce or HubSpot (default 3y)
    deals_engine: str = "auto"  # DEALS_ENGINE: memory, engine (count where the data lives) or auto (by size)
    salesforce: dict = field(default_factory=dict, hash=False)  # SALESFORCE_* settings (see insights/sources/salesforce.py)
    hubspot: dict = field(default_factory=dict, hash=False)  # HUBSPOT_* settings (see insights/sources/hubspot.py)
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None  # a stand-in for Slack's Web API, e.g. in tests
    port: int = 3000
    health_token: str | None = None  # HEALTH_TOKEN: /healthz shows details only with "Authorization: Bearer <it>"
    allowed_users: frozenset[str] = field(default_factory=frozenset)
    allowed_channels: frozenset[str] = field(default_factory=frozenset)
    reps_users: frozenset[str] = field(default_factory=frozenset)  # who may see /reps; empty: allowed users
    database_url: str | None = None  # default: a SQLite file under var/
    digest_channel: str | None = None
    alert_channel: str | None = None
    digest_day: str = "mon"
    digest_time: str = "09:00"
    timezone: str = "UTC"
    refresh_hours: float = 6.0
    refresh_minutes: float | None = None  # REFRESH_MINUTES: overrides refresh_hours, for incremental sources
    digest_grace_hours: float = 48.0  # a digest missed by a downtime is still posted within this window
    alert_cooldown_days: float = 7.0
    alert_margin_pp: float = 2.0  # a standing alert pings again when it worsens by this much
    stale_after_hours: float = 24.0
    max_set_aside_share: float = 0.05  # more bad rows than this in a refresh raises a data alert
    alerts_config: str | None = None  # TOML file of default alert rules
    console_state: str = "scratch"  # console and `ask`: scratch state (a temp SQLite file) or live (DATABASE_URL)
    command_prefix: str = ""  # slash commands are /<prefix><name>, e.g. /sales-winrate; /sales always works
    currency: str = "USD"  # the deal amounts' currency: an ISO code (USD, EUR, GBP, ...) or a symbol
    segment_access: str | None = None  # TOML/YAML file: which users and user groups see which segments
    admin_users: frozenset[str] = field(default_factory=frozenset)  # see everything whatever the mapping says
    manager_channels: frozenset[str] = field(default_factory=frozenset)  # channels where reps may be shown
    follow_time: str = "08:00"  # when followed questions are posted (daily; weekly on DIGEST_DAY)
    crm_deal_url: str | None = None  # CRM_DEAL_URL: a deal's page, e.g. https://x.my.salesforce.com/{deal_id}
    analysis_workers: int = 2  # analyses at once in a web process (CPU-bound: more would slow acks)
    analysis_timeout_seconds: float = 30.0  # a command still running after this is answered "took too long"
    refresh_max_drop: float = 0.2  # REFRESH_MAX_DROP: a refresh losing more of its rows or closed deals is held back
    progress_after_seconds: float = 1.0  # a conversation answer slower than this shows "working on it…" first
    claim_lease_seconds: float = 120.0  # a digest/follow/alert claim not posted within this was left by a crash

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            deals_source=env.get("DEALS_SOURCE") or str(BUNDLED_DEALS),
            deals_mapping=env.get("DEALS_MAPPING") or None,
            deals_table=env.get("DEALS_TABLE") or None,
            deals_query=env.get("DEALS_QUERY") or None,
            deals_since=env.get("DEALS_SINCE") or None,
            deals_engine=(env.get("DEALS_ENGINE") or "auto").strip().lower(),
            salesforce=_prefixed(env, "SALESFORCE_"),
            hubspot=_prefixed(env, "HUBSPOT_"),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            port=int(env.get("PORT") or 3000),
            health_token=env.get("HEALTH_TOKEN") or None,
            allowed_users=_ids(env.get("ALLOWED_USERS")),
            allowed_channels=_ids(env.get("ALLOWED_CHANNELS")),
            reps_users=_ids(env.get("REPS_USERS")),
            database_url=env.get("DATABASE_URL") or None,
            digest_channel=env.get("DIGEST_CHANNEL") or None,
            alert_channel=env.get("ALERT_CHANNEL") or None,
            digest_day=(env.get("DIGEST_DAY") or "mon").lower()[:3],
            digest_time=env.get("DIGEST_TIME") or "09:00",
            timezone=env.get("TIMEZONE") or env.get("DIGEST_TIMEZONE") or "UTC",
            refresh_hours=float(env.get("REFRESH_HOURS") or 6),
            refresh_minutes=float(env["REFRESH_MINUTES"]) if env.get("REFRESH_MINUTES") else None,
            digest_grace_hours=float(env.get("DIGEST_GRACE_HOURS") or 48),
            alert_cooldown_days=float(env.get("ALERT_COOLDOWN_DAYS") or 7),
            alert_margin_pp=float(env.get("ALERT_MARGIN_PP") or 2),
            stale_after_hours=float(env.get("STALE_AFTER_HOURS") or 24),
            max_set_aside_share=float(env.get("MAX_SET_ASIDE_SHARE") or 0.05),
            alerts_config=env.get("ALERTS_CONFIG") or None,
            console_state=(env.get("CONSOLE_STATE") or "scratch").strip().lower(),
            command_prefix=(env.get("COMMAND_PREFIX") or "").strip().lstrip("/").lower(),
            currency=(env.get("CURRENCY") or "USD").strip(),
            segment_access=env.get("SEGMENT_ACCESS") or None,
            admin_users=_ids(env.get("ADMIN_USERS")),
            manager_channels=_ids(env.get("MANAGER_CHANNELS")),
            follow_time=env.get("FOLLOW_TIME") or "08:00",
            crm_deal_url=env.get("CRM_DEAL_URL") or None,
            claim_lease_seconds=float(env.get("CLAIM_LEASE_SECONDS") or 120),
            refresh_max_drop=float(env.get("REFRESH_MAX_DROP") or 0.2),
            analysis_workers=int(env.get("ANALYSIS_WORKERS") or 2),
            analysis_timeout_seconds=float(env.get("ANALYSIS_TIMEOUT_SECONDS") or 30),
            progress_after_seconds=float(env.get("PROGRESS_AFTER_SECONDS") or 1),
        )

    @property
    def refresh_interval_seconds(self) -> int:
        """REFRESH_MINUTES when set (at least one minute), else REFRESH_HOURS."""
        if self.refresh_minutes is not None:
            return int(max(1.0, self.refresh_minutes) * 60)
        return int(self.refresh_hours * 3600)

    @property
    def mode(self) -> str:
        """socket when an app-level token is set, http with bot token and signing secret, else console."""
        if self.slack_app_token and self.slack_bot_token:
            return "socket"
        if self.slack_bot_token and self.slack_signing_secret:
            return "http"
        return "console"

    @property
    def api_url(self) -> str | None:
        """SLACK_API_URL with the trailing slash slack_sdk expects."""
        if not self.slack_api_url:
            return None
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"


def validate_clock(settings: Settings) -> list[str]:
    """Problems with the clock settings, worded for the log (empty when they are usable)."""
    problems = []
    try:
        ZoneInfo(settings.timezone)
    except Exception:
        problems.append(f"TIMEZONE {settings.timezone!r} is not a time zone name such as Europe/London")
    if settings.digest_day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        problems.append(f"DIGEST_DAY {settings.digest_day!r} is not a weekday such as mon")
    for name, value in (("DIGEST_TIME", settings.digest_time), ("FOLLOW_TIME", settings.follow_time)):
        try:
            dt.time.fromisoformat(value)
        except ValueError:
            problems.append(f"{name} {value!r} is not a time such as 09:00")
    return problems
