"""What the listeners need, handed to them once instead of read from globals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core.admin import worded_rules
from bot.slack.access import Access
from bot.core.data import DealData
from bot.store import Store


@dataclass
class Services:
    data: DealData
    access: Access
    store: Store | None = None  # alert rules, fired alerts; None when no database is configured
    charts: bool = True
    snooze: dt.timedelta = dt.timedelta(days=7)
    command_prefix: str = ""  # COMMAND_PREFIX: /sales-winrate as well as /winrate

    def rules(self) -> list[str]:
        """Active alert rules, worded, for the Home tab."""
        if self.store is None:
            return []
        return worded_rules(self.store, dt.datetime.now(dt.timezone.utc))
