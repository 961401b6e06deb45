"""Alert rule kinds: one small enum instead of strings spread over the code.

`AlertKind` is a `StrEnum`, so a member equals its string ("drop" == AlertKind.DROP): stored
rules, TOML configs, templates and JSON keep the same plain values."""
from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    WINRATE_BELOW = "winrate_below"
    DROP = "drop"
    LEAD_SOURCE_GAP = "lead_source_gap"
    LONG_CYCLE = "long_cycle"
    DRIVER_FLIP = "driver_flip"
    BIG_DEAL_AT_RISK = "big_deal_at_risk"  # a large open deal unlikely to win (or stalled); threshold: amount
    DATA = "data"  # refresh failed, stale data, too many rows set aside; raised by the clock, not a rule

    @property
    def takes_threshold(self) -> bool:
        return self in (AlertKind.WINRATE_BELOW, AlertKind.LEAD_SOURCE_GAP)

    @property
    def rate_valued(self) -> bool:
        """Its finding's value is a rate (a fraction), so a margin in pp is divided by 100."""
        return self in (AlertKind.WINRATE_BELOW, AlertKind.DROP, AlertKind.BIG_DEAL_AT_RISK)

    @classmethod
    def parse(cls, word: str) -> "AlertKind | None":
        """The kind a user typed: `winrate`, `drop`, `gap`, `long-cycle`, `driver-flip` and their variants."""
        return KIND_WORDS.get(word.strip().lower())


KIND_WORDS = {
    "winrate": AlertKind.WINRATE_BELOW, "win": AlertKind.WINRATE_BELOW, "rate": AlertKind.WINRATE_BELOW,
    "winrate_below": AlertKind.WINRATE_BELOW,
    "drop": AlertKind.DROP, "drops": AlertKind.DROP,
    "gap": AlertKind.LEAD_SOURCE_GAP, "leadsource": AlertKind.LEAD_SOURCE_GAP, "lead_source_gap": AlertKind.LEAD_SOURCE_GAP,
    "long-cycle": AlertKind.LONG_CYCLE, "longcycle": AlertKind.LONG_CYCLE, "cycle": AlertKind.LONG_CYCLE,
    "long_cycle": AlertKind.LONG_CYCLE,
    "driver-flip": AlertKind.DRIVER_FLIP, "flip": AlertKind.DRIVER_FLIP, "drivers": AlertKind.DRIVER_FLIP,
    "driver_flip": AlertKind.DRIVER_FLIP,
    "big-deal": AlertKind.BIG_DEAL_AT_RISK, "bigdeal": AlertKind.BIG_DEAL_AT_RISK, "big_deal": AlertKind.BIG_DEAL_AT_RISK,
    "deal": AlertKind.BIG_DEAL_AT_RISK, "big_deal_at_risk": AlertKind.BIG_DEAL_AT_RISK,
}
