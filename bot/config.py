"""Settings read once from the environment, with safe defaults; passed down as arguments."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DEALS = PROJECT_ROOT / "data" / "deals.csv"


def _ids(text: str | None) -> frozenset[str]:
    """A comma- or space-separated list of Slack IDs; empty means everyone."""
    return frozenset(t for t in (text or "").replace(",", " ").split() if t)


@dataclass(frozen=True)
class Settings:
    deals_source: str = str(BUNDLED_DEALS)
    deals_mapping: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None  # a stand-in for Slack's Web API, e.g. in tests
    port: int = 3000
    allowed_users: frozenset[str] = field(default_factory=frozenset)
    allowed_channels: frozenset[str] = field(default_factory=frozenset)
    reps_users: frozenset[str] = field(default_factory=frozenset)  # who may see /reps; empty: allowed users

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            deals_source=env.get("DEALS_SOURCE") or str(BUNDLED_DEALS),
            deals_mapping=env.get("DEALS_MAPPING") or None,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            port=int(env.get("PORT") or 3000),
            allowed_users=_ids(env.get("ALLOWED_USERS")),
            allowed_channels=_ids(env.get("ALLOWED_CHANNELS")),
            reps_users=_ids(env.get("REPS_USERS")),
        )

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
