"""What the listeners need, handed to them once instead of read from globals."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.core.admin import worded_rules
from bot.core.follows import worded_follows
from bot.core.scope import Scope
from bot.slack.pool import AnalysisPool
from bot.slack.segments import SegmentAccess
from bot.slack.access import Access
from bot.core.data import DealData
from bot.store import STORE_DOWN, Store

log = logging.getLogger(__name__)


@dataclass
class Services:
    data: DealData
    access: Access
    store: Store | None = None  # alert rules, fired alerts; None when no database is configured
    charts: bool = True
    snooze: dt.timedelta = dt.timedelta(days=7)
    command_prefix: str = ""  # COMMAND_PREFIX: /sales-winrate as well as /winrate
    segments: SegmentAccess | None = None  # SEGMENT_ACCESS: row-level access; None: everyone sees everything
    client: WebClient | None = None  # for user-group membership (row-level access)
    analyses: AnalysisPool = field(default_factory=AnalysisPool)  # ANALYSIS_WORKERS, ANALYSIS_TIMEOUT_SECONDS
    progress_after: float = 1.0  # PROGRESS_AFTER_SECONDS: a slower answer in a thread shows "working on it…" first

    def scope_for(self, user_id: str | None) -> Scope:
        if self.segments is None:
            return Scope.everything()
        return self.segments.scope_for(user_id, self.client)

    def follows(self, user_id: str | None) -> list[str] | None:
        """A user's followed questions, worded, for the Home tab; None when the state database is down."""
        if self.store is None or not user_id:
            return []
        try:
            return worded_follows(self.store, user_id, dt.datetime.now(dt.timezone.utc))
        except STORE_DOWN:
            log.warning("the state database is not answering: the Home tab shows no follows")
            return None

    def rules(self) -> list[str] | None:
        """Active alert rules, worded, for the Home tab; None when the state database is down."""
        if self.store is None:
            return []
        try:
            return worded_rules(self.store, dt.datetime.now(dt.timezone.utc))
        except STORE_DOWN:
            log.warning("the state database is not answering: the Home tab shows no alert rules")
            return None
