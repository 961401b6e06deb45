"""What the listeners need, handed to them once instead of read from globals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..access import Access
from ..data import DealData
from ..store import Store


@dataclass
class Services:
    data: DealData
    access: Access
    store: Store | None = None  # alert rules, fired alerts; None when no database is configured
    charts: bool = True
    snooze: dt.timedelta = dt.timedelta(days=7)

    def rules(self) -> list[str]:
        """Active alert rules, worded, for the Home tab."""
        if self.store is None:
            return []
        from ..admin import worded_rules

        return worded_rules(self.store, dt.datetime.now(dt.timezone.utc))
