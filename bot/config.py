"""Settings read once from the environment, with safe defaults; passed down as arguments."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DEALS = PROJECT_ROOT / "data" / "deals.csv"


@dataclass(frozen=True)
class Settings:
    deals_source: str = str(BUNDLED_DEALS)
    deals_mapping: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            deals_source=env.get("DEALS_SOURCE") or str(BUNDLED_DEALS),
            deals_mapping=env.get("DEALS_MAPPING") or None,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        )

    @property
    def mode(self) -> str:
        """socket when an app-level token is set, http with bot token and signing secret, else console."""
        if self.slack_app_token and self.slack_bot_token:
            return "socket"
        if self.slack_bot_token and self.slack_signing_secret:
            return "http"
        return "console"
